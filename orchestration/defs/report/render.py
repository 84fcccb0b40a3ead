"""The segment report: one static HTML page a marketer opens without SQL (no definitions here).

Read from the warehouse (read-only; DuckDB's file or Spark's tables), rendered with matplotlib charts embedded as base64 PNGs, so the page
is one file that works offline. A table the warehouse lacks (no scoring yet, no campaign history) leaves
its part of the page out and says so. Used by the ``report/segment_report`` asset and ``make report``.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ml.explanations import feature_label
from ml.profiles import RATE_KPIS
from ml.segmentation import UNSTABLE_BELOW
from orchestration.lib.charts import migration_figure, png_base64, pyplot
from ml.scoring_sql import sql_string
from orchestration.lib.sql_warehouse import DuckDBWarehouse, SparkWarehouse, SqlSession

TRAITS_PER_CARD = 6
KPI_WORDS = {"conversion_rate": "Campaign conversion", "open_rate": "Open rate", "click_rate": "Click rate",
             "avg_order_value": "Average order value", "repeat_rate": "Repeat rate", "return_rate": "Return rate"}
# KPIs measured per month in marts.segment_kpi_history, by the profile's KPI name
ACTUALS = {"conversion_rate": "conversion_rate_actual", "avg_order_value": "avg_order_value_actual"}


@dataclass
class ReportData:
    profiles: pd.DataFrame
    traits: pd.DataFrame
    run: dict
    kpi_history: pd.DataFrame = field(default_factory=pd.DataFrame)
    migrations: pd.DataFrame = field(default_factory=pd.DataFrame)
    missing: list[str] = field(default_factory=list)  # what the page cannot show, said on it

    @property
    def report_id(self) -> str:
        """The folder of this report: the scoring result it shows, else the segmentation run."""
        return self.run.get("result_id") or self.run["run_id"]


def read_report_data(sql: SqlSession) -> ReportData:
    """Everything the page shows; refuses only when there are no segments at all."""
    if not sql.has_table("segments", "segment_profiles"):
        raise ValueError("the warehouse has no segments.segment_profiles: run the segmentation "
                         "(segment_customers or full_pipeline) first")
    profiles = sql.df("select * from segments.segment_profiles order by level, segment_id")
    traits = sql.df("select level, segment_id, feature, segment_value, population_value, index, z_score "
                    "from segments.segment_traits")
    run = sql.df("select run_id, finished_at, features_as_of, input_rows from segments.segmentation_runs "
                 f"where run_id = {sql_string(profiles['run_id'].iloc[0], sql.dialect)}").to_dict("records")
    run = run[0] if run else {"run_id": profiles["run_id"].iloc[0]}
    missing = []
    if sql.has_table("segments", "scoring_runs"):
        scored = sql.df("select result_id, scored_at from segments.scoring_runs order by scored_at desc limit 1"
                        ).to_dict("records")
        run.update(scored[0] if scored else {})
    kpi_history = pd.DataFrame()
    if sql.has_table("marts", "segment_kpi_history"):
        kpi_history = sql.df("select * from marts.segment_kpi_history order by period_start")
    if kpi_history.empty:
        missing.append("KPI actuals and uplift (no campaign months measured: marts.segment_kpi_history is "
                       "missing or empty)")
    migrations = pd.DataFrame()
    if sql.has_table("marts", "segment_migrations"):
        migrations = sql.df(
            "select from_segment_id, to_segment_id, customers, net_revenue, previous_result_id "
            "from marts.segment_migrations where previous_result_id is not null and result_id = "
            "(select max(result_id) from marts.segment_migrations where previous_result_id is not null)")
    if migrations.empty:
        missing.append("migrations (one scoring result so far: no history to compare with)")
    return ReportData(profiles, traits, run, kpi_history, migrations, missing)


# ---------- charts ----------

def _colours(macro_ids) -> dict[str, tuple]:
    return {m: pyplot().cm.tab10(i % 10) for i, m in enumerate(sorted(macro_ids))}


def map_figure(profiles: pd.DataFrame):
    """Micro segments by size (customers) and value (average customer value), bubble area = share of
    revenue, colour = macro segment; each macro marked at its own size and value."""
    macro = profiles[profiles["level"] == "macro"]
    micro = profiles[profiles["level"] == "micro"]
    colours = _colours(macro["segment_id"])
    fig, ax = pyplot().subplots(figsize=(11, 5.5))
    for _, m in macro.iterrows():
        ax.scatter(m["customers"], m["avg_customer_value"], s=3000 * m["share_of_revenue"] + 60, marker="s",
                   facecolor="none", edgecolor=colours[m["segment_id"]], linewidth=2)
        ax.annotate(f"{m['segment_id']} {m['segment_name']}", (m["customers"], m["avg_customer_value"]),
                    fontsize=8, fontweight="bold", xytext=(6, 6), textcoords="offset points")
    for _, s in micro.iterrows():
        ax.scatter(s["customers"], s["avg_customer_value"], s=2000 * s["share_of_revenue"] + 20, alpha=0.6,
                   color=colours.get(s["parent_segment_id"], "grey"))
        ax.annotate(s["segment_id"], (s["customers"], s["avg_customer_value"]), fontsize=7, xytext=(4, -8),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("customers (log scale)")
    ax.set_ylabel("average net revenue per customer")
    ax.set_title("Segment map: squares = macro segments, dots = their micro segments (area = share of revenue)")
    ax.grid(alpha=0.3)
    return fig


def traits_figure(traits: pd.DataFrame, colour) -> object | None:
    """The segment's most distinctive traits (largest |z|) as horizontal bars of their index (100 = average)."""
    t = traits[np.isfinite(traits["index"]) & (traits["population_value"] > 0)]
    t = t.reindex(t["z_score"].abs().sort_values(ascending=False).index).head(TRAITS_PER_CARD)
    if t.empty:
        return None
    t = t.iloc[::-1]
    fig, ax = pyplot().subplots(figsize=(4.6, 0.34 * len(t) + 0.7))
    ax.barh([feature_label(f) for f in t["feature"]], t["index"],
            color=[colour if i >= 100 else "#b0b0b0" for i in t["index"]])
    ax.axvline(100, color="black", linewidth=0.8)
    for y, value in enumerate(t["index"]):
        ax.text(value, y, f" {value:,.0f}", va="center", fontsize=7)
    ax.set_xlim(0, max(200, t["index"].max() * 1.2))
    ax.set_xlabel("index (100 = all customers)", fontsize=7)
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _img(fig, alt: str, cls: str) -> str:
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="data:image/png;base64,{png_base64(fig)}">'


# ---------- cards ----------

def _text(x, missing: str = "") -> str:
    """A value as escaped text; NULL (None, NaN or pd.NA, whichever the warehouse gave) as ``missing``."""
    return html.escape(missing if x is None or pd.isna(x) else str(x))


def _flag(x) -> bool:
    """A boolean column's value; NULL is false."""
    return False if x is None or pd.isna(x) else bool(x)


def _pct(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{x:.1%}"


def _kpi_value(kpi: str, x) -> str:
    if x is None or pd.isna(x):
        return "n/a"
    return f"{x:.1%}" if kpi in RATE_KPIS else f"{x:,.2f}"


def _uplift(latest: pd.Series | None) -> str:
    """The latest month's measured uplift of reached customers over the holdout, or why there is none."""
    if latest is None or pd.isna(latest.get("conversion_uplift")):
        return ""
    month = f"{latest['period_start']:%b %Y}"
    if _flag(latest.get("too_small_to_say")):
        return f"<p class='uplift'>Uplift vs holdout ({month}): too few customers in an arm to say.</p>"
    revenue = latest.get("revenue_uplift_per_customer")
    revenue = f", net revenue {revenue:+,.2f} per customer" if pd.notna(revenue) else ""
    significant = "" if _flag(latest.get("conversion_uplift_significant")) else " (not significant)"
    return (f"<p class='uplift'>Uplift vs holdout ({month}): customers ordering "
            f"{100 * latest['conversion_uplift']:+.1f} pts ({100 * latest['conversion_uplift_low']:+.1f} to "
            f"{100 * latest['conversion_uplift_high']:+.1f}){significant}{revenue}.</p>")


def _kpi_table(row: pd.Series, history: pd.DataFrame) -> str:
    latest = history.iloc[-1] if len(history) else None
    lines = []
    for kpi, words in KPI_WORDS.items():
        if kpi not in row or pd.isna(row[kpi]):
            continue  # the data cannot support this KPI (cannot_say lists why)
        actual = _kpi_value(kpi, latest[ACTUALS[kpi]]) if latest is not None and kpi in ACTUALS else ""
        lines.append(f"<tr><td>{words}</td><td>{_kpi_value(kpi, row[kpi])}</td>"
                     f"<td>{_kpi_value(kpi, row.get(f'{kpi}_target'))}</td><td>{actual}</td></tr>")
    month = f" ({latest['period_start']:%b %Y})" if latest is not None else ""
    return ('<div><table class="kpis"><thead><tr><th>KPI</th><th>now</th><th>target</th>'
            f'<th>actual{month}</th></tr></thead><tbody>{"".join(lines)}</tbody></table>{_uplift(latest)}</div>')


def _card(row: pd.Series, traits: pd.DataFrame, history: pd.DataFrame, colour) -> str:
    sid, level = str(row["segment_id"]), row["level"]
    e = html.escape
    stable = _flag(row.get("is_stable", True))
    badges = "".join([
        '<span class="badge niche">niche</span>' if _flag(row.get("is_niche")) else "",
        "" if stable else '<span class="badge unstable">unstable</span>',
    ])
    fig = traits_figure(traits, colour)
    chart = (_img(fig, f"distinctive traits of {sid}", "trait-chart") if fig is not None
             else "<p class='note'>No trait differs measurably from the average.</p>")
    cannot = (f"<p class='note'>The data cannot tell: {_text(row.get('cannot_say'))}.</p>"
              if _text(row.get("cannot_say")) else "")
    parent = f' data-parent-id="{e(str(row["parent_segment_id"]))}"' if level == "micro" else ""
    return f"""
<article class="segment-card {level}" id="segment-{e(sid)}" data-segment-id="{e(sid)}" data-level="{level}"{parent}>
  <h3><span class="sid">{e(sid)}</span> {_text(row['segment_name'])} {badges}</h3>
  <p class="description">{_text(row.get('description'))}</p>
  <dl class="facts">
    <dt>Customers</dt><dd>{row['customers']:,} ({_pct(row['share_of_customers'])})</dd>
    <dt>Share of revenue</dt><dd>{_pct(row['share_of_revenue'])}</dd>
    <dt>Value per customer</dt><dd>{row['avg_customer_value']:,.0f}</dd>
    <dt>Budget</dt><dd>{row['budget']:,.0f} ({_pct(row['budget_share'])})</dd>
    <dt>Stability</dt><dd>{row['stability']:.2f}{'' if stable else f' (below {UNSTABLE_BELOW})'}</dd>
  </dl>
  <div class="action">
    <div><b>Channel</b> {_text(row.get('recommended_channel'), 'not known from the data')}</div>
    <div><b>Message</b> {_text(row.get('message_theme'), 'not known')}</div>
    <div><b>Offer</b> {_text(row.get('offer_type'), 'not known')}</div>
  </div>
  <div class="card-body">{chart}{_kpi_table(row, history)}</div>
  {cannot}
</article>"""


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#c9cfdb;font-size:13px}main{padding:16px 28px}
h2{font-size:18px;margin:26px 0 10px}.chart{max-width:100%;background:#fff;border-radius:8px;padding:8px}
.macro-group{background:#e9ecf2;border-radius:10px;padding:12px;margin:18px 0;border-left:6px solid var(--c)}
.micro-cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px;margin-top:12px}
.segment-card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.segment-card.macro{border-top:4px solid var(--c)}.segment-card h3{margin:0 0 6px;font-size:16px}
.sid{color:#6b7385;font-family:monospace;margin-right:4px}.description{font-size:13px;color:#3b4252}
.facts{display:grid;grid-template-columns:repeat(5,auto);grid-auto-flow:column;grid-template-rows:auto auto;
gap:0 18px;font-size:12px;margin:8px 0}.facts dt{color:#6b7385}.facts dd{margin:0;font-weight:600}
.action{display:flex;gap:18px;flex-wrap:wrap;font-size:13px;background:#f4f6fa;padding:6px 8px;border-radius:6px}
.card-body{display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start;margin-top:8px}
.kpis{border-collapse:collapse;font-size:12px}.kpis td,.kpis th{padding:2px 8px;border-bottom:1px solid #e3e6ec;
text-align:right}.kpis td:first-child,.kpis th:first-child{text-align:left}
.badge{font-size:11px;padding:1px 6px;border-radius:8px;margin-left:4px;vertical-align:middle}
.uplift{font-size:12px;margin:6px 0 0}.niche{background:#fde8c8}.unstable{background:#f8d0d0}.note{font-size:12px;color:#6b7385}
"""


def render_html(data: ReportData) -> str:
    """The whole page as one self-contained HTML string (charts inline, no external resources)."""
    from matplotlib.colors import to_hex

    p = data.profiles
    macro = p[p["level"] == "macro"].sort_values("customers", ascending=False)
    colours = _colours(macro["segment_id"])
    hex_colour = {m: to_hex(c) for m, c in colours.items()}
    history = data.kpi_history
    groups = []
    for _, m in macro.iterrows():
        mid = m["segment_id"]
        micro = p[(p["level"] == "micro") & (p["parent_segment_id"] == mid)].sort_values("customers", ascending=False)
        cards = [_card(r, data.traits[data.traits["segment_id"] == r["segment_id"]],
                       history[history["segment_id"] == r["segment_id"]] if len(history) else history,
                       colours[r["parent_segment_id"]]) for _, r in micro.iterrows()]
        macro_card = _card(m, data.traits[data.traits["segment_id"] == mid],
                           history[history["segment_id"] == mid] if len(history) else history, colours[mid])
        groups.append(f'<section class="macro-group" style="--c:{hex_colour[mid]}" data-macro-id="{html.escape(mid)}">'
                      f'{macro_card}<div class="micro-cards">{"".join(cards)}</div></section>')
    migration = ""
    if len(data.migrations):
        moved = int(data.migrations.loc[data.migrations["from_segment_id"] != data.migrations["to_segment_id"],
                                        "customers"].sum())
        migration = (f"<h2>Migrations since the previous result</h2><p class='note'>{moved:,} customers changed "
                     f"segment since result {html.escape(str(data.migrations['previous_result_id'].iloc[0]))}.</p>"
                     + _img(migration_figure(data.migrations), "migration chart", "chart migration-chart"))
    run = data.run
    missing = "".join(f"<li>{html.escape(m)}</li>" for m in data.missing)
    n_micro = int((p["level"] == "micro").sum())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Segment report · {html.escape(data.report_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><header><h1>Customer segments: {len(macro)} macro, {n_micro} micro</h1>
<p>Segmentation run {html.escape(str(run.get('run_id')))} (features as of {html.escape(str(run.get('features_as_of'))[:10])},
{int(p.loc[p['level'] == 'macro', 'customers'].sum()):,} customers) · scoring result
{html.escape(str(run.get('result_id', 'none yet')))} · built {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC</p></header>
<main>
<h2>Segment map</h2>{_img(map_figure(p), "segment map", "chart map-chart")}
{migration}
{f"<h2>Not in this report</h2><ul class='note'>{missing}</ul>" if missing else ""}
<h2>Segments</h2>
<p class="note">Each macro segment, then its micro segments. Traits: index 100 = the average customer; KPI targets
from the profile, actuals and uplift (reached customers against the persistent holdout, ± 3 standard errors) from
the latest measured campaign month (touch conversion and order value of reached customers); uplift = the share of
reached customers who ordered minus that of held-out customers, in percentage points.</p>
{"".join(groups)}
</main></body></html>"""


def write_report(page: str, reports_dir: Path, report_id: str) -> Path:
    """``<reports_dir>/<report_id>/index.html`` and ``latest/index.html``, each written aside and renamed, so a
    reader never sees half a page. Returns the run's page."""
    target = None
    for folder in (report_id, "latest"):
        path = reports_dir / folder / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".index.html.{uuid.uuid4().hex[:8]}")
        aside.write_text(page, encoding="utf-8")
        os.replace(aside, path)
        target = target or path
    return target


def build_report(warehouse: DuckDBWarehouse | SparkWarehouse, reports_dir: Path) -> tuple[Path, ReportData, float]:
    """Read the warehouse (either engine's) read-only, render and write the page: (its path, the data, seconds)."""
    started = time.perf_counter()
    with warehouse.session(read_only=True) as sql:
        data = read_report_data(sql)
    path = write_report(render_html(data), reports_dir, data.report_id)
    return path, data, time.perf_counter() - started
