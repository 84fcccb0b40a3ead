"""The whole pipeline against its floor and a pandas notebook, on the same raw tables, in one run.

    .venv/bin/python benchmarks/end_to_end.py --customers 100000

1. **pipeline**: `full_pipeline` through Dagster in a child process (demo mode, a scratch warehouse and
   DAGSTER_HOME under --workdir); every step's time comes from the run's own step stats. ``--engine spark``
   runs it on Spark local[2] (the spark extra and Java 17), its tables and metastore under --workdir.
2. **floor**: on the export files that run loaded (the demo's Parquet exports, read where they lie), one
   DuckDB query (deduplicating every table the features read, as staging does: orders, lines, products,
   touches, web events) computing per-customer RFM,
   category and channel shares, touch and browsing rates, then KMeans on a 50k sample, then the nearest
   centroid for every customer in SQL.
3. **notebook**: the same export files read with pandas, the same features (drop_duplicates, merges,
   groupby, pivot), the same fit, and assignment with numpy.
4. **daily path** (``--daily``): on the warehouse the pipeline left (right after it, before the peers),
   ``score_customers`` three times: first with nothing new since the pipeline's build, then after a day of new
   rows (a file per fact table, 1/365 of its rows again under new keys, appended by the real loader; on Spark then
   published to Spark's raw tables, as ``raw_exports`` does there) with the as-of date kept, then after another
   such day dated the next day, with the as-of date moved to it (what the default, the last transaction date,
   does every day), each with its per-step times.

The pipeline, floor and notebook start from the same export files. The pipeline's demo generation makes
those files, which a retailer's exports would not need, so the ratios are printed with and without it.

Each runs in its own process; each peak RSS is that of its process tree at once (the pipeline's: Dagster's
process and the dbt processes it starts, sampled every 0.2 s). Prints figures and the ratios pipeline/floor
and notebook/pipeline; asserts nothing (speed is measured here, never in tests).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = 50_000
AS_OF = "2026-06-30"


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2


# --- the pipeline, through Dagster ------------------------------------------------------------------
def _step_figures(stats) -> dict:
    """A step's seconds from the run's step stats; a skipped step (nothing new upstream) never started."""
    skipped = stats.start_time is None or getattr(stats.status, "value", None) == "SKIPPED"
    return {"step": stats.step_key, "skipped": skipped,
            "seconds": 0.0 if skipped else (stats.end_time or stats.start_time) - stats.start_time}


def run_pipeline(customers: int, workdir: Path) -> dict:
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.lib.run_health import clean_up_dead_runs

    instance = dg.DagsterInstance.get()
    print(clean_up_dead_runs(instance).line(), file=sys.stderr)  # a benchmark killed earlier must not stall this one
    config = {"ops": {"demo_exports": {"config": {"n_customers": customers, "seed": 42, "reference_date": AS_OF}}},
              "resources": {"analysis": {"config": {"as_of_date": AS_OF}}}}
    started = time.perf_counter()
    result = defs().resolve_job_def("full_pipeline").execute_in_process(run_config=config, instance=instance,
                                                                         raise_on_error=False)
    wall = time.perf_counter() - started
    steps = [_step_figures(s) for s in instance.get_run_step_stats(result.run_id)]
    macro_k = _macro_k() if result.success else None
    return {"success": result.success, "seconds": wall, "steps": steps, "macro_k": macro_k,
            "peak_rss_gb": _peak_rss_gb()}


def _macro_k() -> int:
    """The fitted number of macro segments, from the ledger of the engine the run used (the floor fits as many)."""
    from orchestration.lib.sql_warehouse import open_warehouse

    with open_warehouse(_on_spark(), os.environ["MICROSEG_WAREHOUSE"]) as tables, \
            tables.session(read_only=True) as sql:
        (macro_k,) = sql.one("select macro_k from segments.segmentation_runs order by finished_at desc limit 1")
    return int(macro_k)


def _on_spark() -> bool:
    """Whether this child's runs use Spark (the engine its parent set in MICROSEG_ENGINE)."""
    from orchestration.lib.settings import SPARK, configured_engine

    return configured_engine() == SPARK


def last_pipeline_run() -> dict:
    """The figures of the last full_pipeline run in DAGSTER_HOME (for --reuse; its peak RSS is not known)."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    (record,) = instance.get_run_records(dg.RunsFilter(job_name="full_pipeline"), limit=1)
    steps = [_step_figures(s)
             for s in instance.get_run_step_stats(record.dagster_run.run_id)]
    return {"success": True, "seconds": record.end_time - record.start_time, "steps": steps, "macro_k": _macro_k(),
            "peak_rss_gb": float("nan")}


# --- the daily path: score_customers on the pipeline's warehouse -------------------------------------
FACT_KEYS = {"orders": "order_id", "order_items": "order_item_id", "web_events": "event_id",
             "marketing_touches": "touch_id"}
NEW_KEY_OFFSET = 10 ** 13  # above every demo key


NEXT_DAY = "2026-07-01"  # the day after AS_OF: the third daily run's rows are dated then, and its as-of date


def _run_job(name: str, as_of: str = AS_OF) -> dict:
    import dagster as dg

    from orchestration.definitions import defs

    instance = dg.DagsterInstance.get()
    started = time.perf_counter()
    result = defs().resolve_job_def(name).execute_in_process(
        run_config={"resources": {"analysis": {"config": {"as_of_date": as_of}}}}, instance=instance,
        raise_on_error=False)
    wall = time.perf_counter() - started
    steps = [_step_figures(s) for s in instance.get_run_step_stats(result.run_id)]
    return {"success": result.success, "seconds": wall, "steps": steps}


TIMESTAMPS = {"orders": "order_ts", "web_events": "event_ts", "marketing_touches": "sent_at"}


def _append_a_day(warehouse: str, workdir: Path, dated: str | None = None, nth: int = 1) -> int:
    """A day's new rows for each fact table (1/365 of its rows, new keys), appended as files by the loader;
    ``dated``: each row moved to that day (its time of day kept), as a till's next day would be."""
    import duckdb

    from orchestration.lib.files import APPEND, load_files

    day = workdir / f"daily-{nth}"
    day.mkdir(exist_ok=True)
    salt = f" + {nth - 1}" if nth > 1 else ""  # another day's sample of the original rows
    with duckdb.connect(warehouse) as con:
        for table, key in FACT_KEYS.items():
            keys = [key] + (["order_id"] if table == "order_items" else [])  # a new order's lines, new ones too
            moved = [f"{k} + {NEW_KEY_OFFSET * nth} as {k}" for k in keys]
            if dated and table in TIMESTAMPS:
                column = TIMESTAMPS[table]
                moved.append(f"date '{dated}' + ({column} - date_trunc('day', {column})) as {column}")
                keys = keys + [column]
            exclude = ", ".join(keys + ["_source", "_file", "_loaded_at"])
            sampled = "order_id" if table in ("orders", "order_items") else key  # whole orders
            con.execute(f"copy (select {', '.join(moved)}, * exclude ({exclude}) from raw.{table} "
                        f"where {key} < {NEW_KEY_OFFSET} and hash({sampled}{salt}) % 365 = 0) "
                        f"to '{day / (table + '_day.parquet')}' (format parquet)")
        con.execute("begin")
        loads = load_files(con, sorted(day.glob("*_day.parquet")), source="inbox", mode=APPEND,
                           tables=list(FACT_KEYS))
        con.execute("commit")
    if _on_spark():  # as raw_exports does on Spark: the load area's tables to Spark
        from orchestration.lib.spark import load_raw_into_spark, step_session

        with step_session() as spark:
            load_raw_into_spark(Path(warehouse), spark)
    return sum(load.rows for load in loads)


def run_daily(warehouse: str, workdir: Path) -> dict:
    unchanged = _run_job("score_customers")
    started = time.perf_counter()
    appended = _append_a_day(warehouse, workdir)
    load_seconds = time.perf_counter() - started
    new_day = _run_job("score_customers")
    # the default's day: the new rows dated the next day, which the as-of date (the last transaction date) moves to
    started = time.perf_counter()
    next_rows = _append_a_day(warehouse, workdir, dated=NEXT_DAY, nth=2)
    next_load = time.perf_counter() - started
    next_day = _run_job("score_customers", as_of=NEXT_DAY)
    return {"unchanged": unchanged, "new_day": new_day, "appended_rows": appended, "load_seconds": load_seconds,
            "next_day": next_day, "next_day_rows": next_rows, "next_day_load_seconds": next_load}


# --- the floor: one query, one fit on a sample, assignment in SQL ------------------------------------
FEATURES_SQL = """
with orders as (select * from raw.orders qualify row_number() over (partition by order_id order by order_ts) = 1),
items as (select * from raw.order_items qualify row_number() over (partition by order_item_id order by order_id) = 1),
products as (select * from raw.products qualify row_number() over (partition by product_id order by product_id) = 1),
touches as (select * from raw.marketing_touches qualify row_number() over (partition by touch_id order by sent_at) = 1),
events as (select * from raw.web_events qualify row_number() over (partition by event_id order by event_ts) = 1),
lines as (
    select o.customer_id, o.order_id, o.order_ts, lower(trim(o.channel)) as channel, lower(trim(p.category)) as category,
           i.quantity, i.quantity * i.unit_price * (1 - coalesce(o.discount_pct, 0))
               * case when i.line_type = 'refund' then -1 else 1 end as amount
    from items as i join orders as o using (order_id) join products as p using (product_id)
    where o.order_ts <= timestamp '{as_of} 23:59:59' and o.order_ts > timestamp '{as_of}' - interval 730 day
      and (i.quantity > 0 or i.line_type = 'refund')
),
-- per order first (and per session below): the distinct counts per customer become plain counts of groups
-- (the feature query at 1M: 54 -> 42 s, the same features)
ordered as (
    select customer_id, order_id, any_value(channel) as channel, max(order_ts) as order_ts, sum(amount) as amount,
           sum(quantity) as quantity, {category_units}
    from lines group by customer_id, order_id
),
buying as (
    select customer_id,
           count(*) as orders,
           sum(amount) as net_revenue,
           date_diff('day', max(order_ts), timestamp '{as_of}') as recency_days,
           {category_shares},
           {channel_shares}
    from ordered group by customer_id
),
touched as (
    select customer_id, count(*) as touches, avg(case when opened then 1.0 else 0.0 end) as open_rate,
           avg(case when clicked then 1.0 else 0.0 end) as click_rate
    from touches where sent_at <= timestamp '{as_of} 23:59:59' group by customer_id
),
sessions as (
    select customer_id, session_id, count(*) as events,
           count(*) filter (where lower(trim(event_type)) = 'add_to_cart') as cart_events
    from events where event_ts <= timestamp '{as_of} 23:59:59' group by customer_id, session_id
),
browsing as (
    select customer_id, count(session_id) as sessions, sum(cart_events) * 1.0 / sum(events) as cart_event_share
    from sessions group by customer_id
)
select b.*, coalesce(t.touches, 0) as touches, coalesce(t.open_rate, 0) as open_rate,
       coalesce(t.click_rate, 0) as click_rate, coalesce(w.sessions, 0) as sessions,
       coalesce(w.cart_event_share, 0) as cart_event_share
from buying as b left join touched as t using (customer_id) left join browsing as w using (customer_id)
"""


def _floor_sql(con) -> str:
    categories = [r[0] for r in con.execute("select distinct lower(trim(category)) from raw.products "
                                            "where category is not null order by 1").fetchall()]
    channels = [r[0] for r in con.execute("select distinct lower(trim(channel)) from raw.orders "
                                          "where channel is not null order by 1").fetchall()]
    units = ", ".join(f"sum(case when category = '{c}' then quantity else 0 end) as \"units_{c}\"" for c in categories)
    shares = ", ".join(f"sum(\"units_{c}\") * 1.0 / nullif(sum(quantity), 0) as \"share_{c}\"" for c in categories)
    channel_shares = ", ".join(f"count(*) filter (where channel = '{c}') * 1.0 / count(*) as \"{c}_share\""
                               for c in channels)
    return FEATURES_SQL.format(as_of=AS_OF, category_units=units, category_shares=shares,
                               channel_shares=channel_shares)


def _fit(X, k: int):
    import numpy as np
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(42)
    sample = X[rng.choice(len(X), size=min(SAMPLE, len(X)), replace=False)]
    mean, std = sample.mean(0), sample.std(0) + 1e-9
    with threadpool_limits(limits=1, user_api="openmp"):  # as the pipeline fits: one thread per fit
        model = KMeans(k, n_init=8, random_state=42).fit((sample - mean) / std)
    return mean, std, model.cluster_centers_


EXPORTED = ("orders", "order_items", "products", "marketing_touches", "web_events")


def run_floor(exports: Path, k: int) -> dict:
    import duckdb
    import numpy as np

    times = {}
    from orchestration.lib.settings import default_duckdb_memory_limit

    # half the machine (the pipeline's default cap) whatever MICROSEG_DUCKDB_MEMORY_LIMIT says: the floor's one
    # query ranks every fact row at once, and under a 3 GB cap it ran out of memory at 1M. More memory only makes
    # the floor faster, so a pipeline run under a lower cap is not flattered. It spills under the workdir, as the
    # pipeline does beside its warehouse.
    config = {"memory_limit": default_duckdb_memory_limit(), "temp_directory": str(exports.parent.parent / "floor.tmp")}
    with duckdb.connect(config=config) as con:
        started = time.perf_counter()
        con.execute("create schema raw")  # the export files where they lie, under the names the query reads
        for table in EXPORTED:
            con.execute(f"create view raw.{table} as select * from read_parquet('{exports / table}.parquet')")
        con.execute(f"create temp table features as {_floor_sql(con)}")
        times["features"] = time.perf_counter() - started
        started = time.perf_counter()
        columns = [c for c in con.execute("select * from features limit 0").df().columns if c != "customer_id"]
        sample = con.execute(f"select * exclude (customer_id) from features using sample {SAMPLE} rows "
                             f"(reservoir, 42)").df().fillna(0).to_numpy()
        mean, std, centres = _fit(sample, k)
        times["fit"] = time.perf_counter() - started
        started = time.perf_counter()
        values = ", ".join("(" + ", ".join([str(j)] + [repr(float(v)) for v in c]) + ")" for j, c in enumerate(centres))
        distance = " + ".join(f"power((coalesce(f.\"{col}\", 0) - {float(mean[i])!r}) / {float(std[i])!r} - c.v{i}, 2)"
                              for i, col in enumerate(columns))
        con.execute(f"""create temp table assigned as
            select f.customer_id, arg_min(c.k, {distance}) as segment
            from features as f cross join (values {values}) as c(k, {", ".join(f"v{i}" for i in range(len(columns)))})
            group by f.customer_id""")
        (n,) = con.execute("select count(*) from assigned").fetchone()
        times["assign"] = time.perf_counter() - started
    return {"seconds": sum(times.values()), "steps": times, "customers": n, "peak_rss_gb": _peak_rss_gb(),
            "spread": float(np.std(centres))}


# --- the notebook peer -------------------------------------------------------------------------------
def run_notebook(exports: Path, k: int) -> dict:
    import numpy as np
    import pandas as pd

    times = {}
    started = time.perf_counter()
    orders = pd.read_parquet(exports / "orders.parquet",
                             columns=["order_id", "customer_id", "order_ts", "channel", "discount_pct"])
    items = pd.read_parquet(exports / "order_items.parquet",
                            columns=["order_item_id", "order_id", "product_id", "line_type", "quantity", "unit_price"])
    products = pd.read_parquet(exports / "products.parquet", columns=["product_id", "category"])
    times["read"] = time.perf_counter() - started
    started = time.perf_counter()
    orders = orders.drop_duplicates("order_id")
    items = items.drop_duplicates("order_item_id")
    products = products.drop_duplicates("product_id")
    orders["channel"] = orders["channel"].astype("string").str.strip().str.lower()
    products["category"] = products["category"].astype("string").str.strip().str.lower()
    as_of = pd.Timestamp(AS_OF)
    orders = orders[(orders["order_ts"] <= as_of + pd.Timedelta(hours=23, minutes=59, seconds=59))
                    & (orders["order_ts"] > as_of - pd.Timedelta(days=730))]
    lines = items.merge(orders, on="order_id").merge(products, on="product_id")
    lines = lines[(lines["quantity"] > 0) | (lines["line_type"] == "refund")]
    sign = np.where(lines["line_type"] == "refund", -1, 1)
    lines["amount"] = lines["quantity"] * lines["unit_price"] * (1 - lines["discount_pct"].fillna(0)) * sign
    g = lines.groupby("customer_id")
    features = pd.DataFrame({"orders": g["order_id"].nunique(), "net_revenue": g["amount"].sum(),
                             "recency_days": (as_of - g["order_ts"].max()).dt.days})
    units = lines.pivot_table(index="customer_id", columns="category", values="quantity", aggfunc="sum", fill_value=0)
    features = features.join(units.div(units.sum(1), axis=0).add_prefix("share_"))
    per_channel = orders.groupby(["customer_id", "channel"]).size().unstack(fill_value=0)
    features = features.join(per_channel.div(per_channel.sum(1), axis=0).add_suffix("_share"))
    features = features.replace([np.inf, -np.inf], np.nan).fillna(0)  # refunds can zero a customer's units
    times["features"] = time.perf_counter() - started
    started = time.perf_counter()
    X = features.to_numpy(dtype=float)
    mean, std, centres = _fit(X, k)
    times["fit"] = time.perf_counter() - started
    started = time.perf_counter()
    Z = (X - mean) / std
    segment = ((Z[:, None, :] - centres[None, :, :]) ** 2).sum(-1).argmin(1)
    times["assign"] = time.perf_counter() - started
    return {"seconds": sum(times.values()), "steps": times, "customers": len(segment), "peak_rss_gb": _peak_rss_gb()}


# --- driver ------------------------------------------------------------------------------------------
def _tree_rss_bytes(root: int) -> int:
    """Resident memory of a process and all its descendants together, from /proc (Linux)."""
    children, rss = {}, {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()  # after "(command)", which may hold spaces
            except OSError:  # the process ended meanwhile
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21])
    pages, todo = 0, [root]
    while todo:
        pid = todo.pop()
        pages += rss.get(pid, 0)
        todo += children.get(pid, [])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _child(kind: str, args: argparse.Namespace, env: dict) -> dict:
    """A child's figures; its peak RSS is that of its whole process tree (dbt's processes beside Dagster's),
    sampled every 0.2 s, or the child's own peak if that is higher."""
    process = subprocess.Popen([sys.executable, __file__, "--child", kind, "--customers", str(args.customers),
                                "--workdir", str(args.workdir), "--k", str(args.k or 0)],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _tree_rss_bytes(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{stderr[-3000:]}")
    figures = json.loads(stdout.strip().splitlines()[-1])
    if "peak_rss_gb" in figures and kind != "last-run":  # --reuse: the earlier run's peak is not known
        figures["peak_rss_gb"] = max(figures["peak_rss_gb"], peak[0] / 1024 ** 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/microseg-bench"))
    parser.add_argument("--child", choices=["pipeline", "floor", "notebook", "last-run", "daily"])
    parser.add_argument("--k", type=int, default=0)
    parser.add_argument("--reuse", action="store_true",
                        help="skip the pipeline: time the floor and notebook on the warehouse a previous run left")
    parser.add_argument("--daily", action="store_true",
                        help="then time the daily path, score_customers: nothing new, a new day's rows, and the next "
                             "day's rows with the as-of date moved to it")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default="duckdb",
                        help="the pipeline's engine (spark: local[2], the spark extra and Java 17); the floor and "
                             "notebook are the same either way")
    parser.add_argument("--no-notebook", action="store_true",
                        help="leave the pandas notebook out (it holds every table in memory: ~15 GB at 1M)")
    args = parser.parse_args()
    warehouse = args.workdir / f"warehouse-{args.customers}.duckdb"
    exports = args.workdir / f"landing-{args.customers}" / "demo"  # where demo_exports writes its files
    if args.child:
        runner = {"pipeline": lambda: run_pipeline(args.customers, args.workdir), "last-run": last_pipeline_run,
                  "floor": lambda: run_floor(exports, args.k),
                  "notebook": lambda: run_notebook(exports, args.k),
                  "daily": lambda: run_daily(str(warehouse), args.workdir)}[args.child]
        print(json.dumps(runner()))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    for stale in [] if args.reuse else args.workdir.glob(f"warehouse-{args.customers}.duckdb*"):
        stale.unlink()
    if not args.reuse:  # Spark's tables and metastore of an earlier run
        shutil.rmtree(args.workdir / f"spark-{args.customers}", ignore_errors=True)
    env = {**os.environ, "MICROSEG_WAREHOUSE": str(warehouse), "MICROSEG_DEMO": "1",
           "MICROSEG_LANDING": str(exports.parent),
           "DAGSTER_HOME": str(args.workdir / "dagster_home"), "MICROSEG_ENGINE": args.engine,
           "MICROSEG_SPARK_DIR": str(args.workdir / f"spark-{args.customers}")}
    (args.workdir / "dagster_home").mkdir(exist_ok=True)
    (args.workdir / "dagster_home" / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    env.pop("MICROSEG_SOURCES", None)

    print(f"{args.customers:,} demo customers, the pipeline on {args.engine}; scratch files in {args.workdir}")
    if args.reuse:
        pipeline = _child("last-run", args, env)
    else:
        pipeline = _child("pipeline", args, env)
    if not pipeline["success"]:
        raise SystemExit("the pipeline run failed: see the Dagster run in " + env["DAGSTER_HOME"])
    # kept before the peers run: at 10M the floor can fail (disk, memory) after an hour of pipeline
    kept = args.workdir / f"pipeline-{args.customers}.json"
    kept.write_text(json.dumps(pipeline))
    print(f"pipeline: {pipeline['seconds']:.1f} s, peak RSS {pipeline['peak_rss_gb']:.2f} GB (step figures in {kept})")
    args.k = pipeline["macro_k"]
    # the daily path before the peers, kept too: it needs the pipeline's warehouse, the floor only the exports
    # (at 10M the floor's spill files and the 30 GB warehouse together can fill the disk)
    daily = _child("daily", args, env) if args.daily else None
    if daily:
        (args.workdir / f"daily-{args.customers}.json").write_text(json.dumps(daily))
    floor = _child("floor", args, env)
    notebook = None if args.no_notebook else _child("notebook", args, env)

    print(f"\n{'work':<50}{'seconds':>10}{'peak RSS GB':>14}")
    print(f"{'pipeline (full_pipeline through Dagster, ' + args.engine + ')':<50}{pipeline['seconds']:>10.1f}{pipeline['peak_rss_gb']:>14.2f}")
    for step in sorted(pipeline["steps"], key=lambda s: -s["seconds"]):
        print(f"  {step['step'][:48]:<48}{step['seconds']:>10.1f}")
    for name, result in (("floor (one DuckDB query + fit + SQL assignment)", floor),
                         ("notebook (pandas + the same fit)", notebook)):
        if result is None:
            print(f"{name:<50}{'not run (--no-notebook)':>24}")
            continue
        print(f"{name:<50}{result['seconds']:>10.1f}{result['peak_rss_gb']:>14.2f}")
        for step, seconds in result["steps"].items():
            print(f"  {step:<48}{seconds:>10.1f}")
    generation = sum(s["seconds"] for s in pipeline["steps"] if s["step"] == "demo_exports")
    from_exports = pipeline["seconds"] - generation
    print(f"\npipeline / floor    = {pipeline['seconds'] / floor['seconds']:.1f}x, "
          f"{from_exports / floor['seconds']:.1f}x from the export files ({generation:.1f} s of demo generation left out)")
    if notebook:
        print(f"notebook / pipeline = {notebook['seconds'] / pipeline['seconds']:.2f}x, "
              f"{notebook['seconds'] / from_exports:.2f}x from the export files (above 1: the pipeline is faster)")
    print(f"(the pipeline runs {len(pipeline['steps'])} steps with validation, quarantine, tests, profiles and "
          f"lineage; the floor and notebook read the same export files and compute only their features)")
    if daily:
        for label, run in (("daily: score_customers, nothing new", daily["unchanged"]),
                           (f"daily: score_customers after a day's {daily['appended_rows']:,} new rows "
                            f"(loaded in {daily['load_seconds']:.1f} s)", daily["new_day"]),
                           (f"daily: the next day, {daily['next_day_rows']:,} new rows dated {NEXT_DAY} (loaded in "
                            f"{daily['next_day_load_seconds']:.1f} s), the as-of date moved to it", daily["next_day"])):
            if not run["success"]:
                raise SystemExit(f"{label} failed: see the Dagster run in " + env["DAGSTER_HOME"])
            print(f"\n{label}: {run['seconds']:.1f} s")
            for step in sorted(run["steps"], key=lambda s: -s["seconds"]):
                print(f"  {step['step'][:48]:<48}" + ("   skipped" if step.get("skipped") else f"{step['seconds']:>10.1f}"))


if __name__ == "__main__":
    main()
