"""Issue #13, the segment marts on Spark: dbt_segment_marts, materialised with engine spark, builds
marts.segment_* and the membership history (the dbt snapshot, rewritten aside and swapped in on Parquet) on dbt's
spark target; with engine duckdb, from the same inputs, it builds the same rows. Then a later scoring result
closes and opens the same spells on both. `make test-spark-pipeline` (needs Java 17).

The inputs: the demo's features and segmentation on each engine (tests/spark/conftest.py ``runs``), and one
scoring result. Scoring runs on Spark too (tests/spark/test_scoring_on_spark.py), but each engine's result has
its own id and time; here each result is scored on DuckDB and its scores and ledger row are handed to Spark as
Parquet tables (``_copy_scores_to_spark``), so both engines' marts start from the same rows and their spells and
migrations compare row for row, timestamps and all. It replaces Spark's own scores, so this module runs after
the ones that read them (``RUNS_SPARK_STEPS``).
The later result is a real second scoring with a few customers then moved to another segment, the same edit on
both engines: the demo's data does not change between two scorings, so nobody would move. (Customers leaving the
base are not edited in: every customer of the fit must keep a scored row, a dbt test of the marts.)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from tests.conftest import load_defs, query
from tests.spark.conftest import CUSTOMERS, _materialise
from tests.spark.test_engine_equivalence import TOLERANCE, like, spark_frame

pytestmark = pytest.mark.spark_pipeline
# tests/conftest.py runs this module after those reading the shared runs' Spark tables (it replaces Spark's
# scores), when no SparkSession is open: its Dagster steps start and stop their own JVMs, and the Derby
# metastore admits one at a time
RUNS_SPARK_STEPS = True

MOVED = 40  # customers the later result moves to another segment
SPELLS = ("select customer_id, segment_id, macro_segment_id, result_id, dbt_valid_from, dbt_valid_to "
          "from segments_history.customer_segment_history order by customer_id, dbt_valid_from")
KPIS = "select * from marts.segment_kpis order by level, segment_id"
DETAILS = ("select segment_id, count(*) as customers, count(why) as explained, sum(cast(is_holdout as int)) as holdout "
           "from marts.customer_segment_details group by segment_id order by segment_id")
WHY = "select customer_id, why from marts.customer_segment_details order by customer_id"
MIGRATIONS = ("select * from marts.segment_migrations "
              "order by result_id, from_segment_id, to_segment_id")
LEDGER = "select result_id, scored_at, completed_at from segments.scoring_runs order by scored_at"
TABLES = {"spells": SPELLS, "kpis": KPIS, "details": DETAILS, "why": WHY, "migrations": MIGRATIONS, "ledger": LEDGER}


def normal(frame: pd.DataFrame) -> pd.DataFrame:
    """Either engine's rows in one form: timestamps as UTC wall-clock, Spark's decimals as floats."""
    out = frame.reset_index(drop=True).copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz is not None else values
            out[column] = values.astype("datetime64[us]")
        elif values.dtype == object and values.map(lambda v: isinstance(v, Decimal)).any():
            out[column] = values.astype(float)
    return out


def assert_same(spark: pd.DataFrame, duck: pd.DataFrame, **tolerance) -> None:
    """Spark's rows equal DuckDB's, read in DuckDB's dtypes (Spark hands an all-NULL column over as objects)."""
    pd.testing.assert_frame_equal(like(spark, duck), duck, check_dtype=False, **tolerance)


def _copy_scores_to_spark(warehouse: Path, folder: Path) -> None:
    """DuckDB's segments.customer_scores as Spark's (replaced), and the ledger rows Spark lacks appended to its
    segments.scoring_runs (its completed_at, Spark's own mark, kept), through Parquet files in ``folder``."""
    from orchestration.lib.spark import step_session

    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table in ("customer_scores", "scoring_runs"):
            columns = [c for c in con.execute(f"select * from segments.{table} limit 0").df().columns
                       if c != "completed_at"]  # a mark of DuckDB's, not Spark's
            con.execute(f"copy (select {', '.join(columns)} from segments.{table}) to '{folder / table}.parquet' "
                        "(format parquet)")
    with step_session() as spark:
        spark.read.parquet(str(folder / "customer_scores.parquet")).write.mode("overwrite").format("parquet") \
            .saveAsTable("segments.customer_scores")
        ledger = spark.read.parquet(str(folder / "scoring_runs.parquet"))
        if not spark.catalog.tableExists("segments.scoring_runs"):
            ledger.write.format("parquet").saveAsTable("segments.scoring_runs")
            return
        have = spark.table("segments.scoring_runs")
        known = {r[0] for r in have.select("result_id").collect()}
        new = ledger.where(~ledger["result_id"].isin(list(known)))
        new.selectExpr(*[c if c in ledger.columns else f"cast(null as timestamp) as {c}" for c in have.columns]) \
            .write.insertInto("segments.scoring_runs")


HISTORY = ("segments.scoring_runs", "segments_history.customer_segment_history")


def _start_from_no_results(warehouse: Path) -> None:
    """Both engines without a scoring result or a membership history (the shared runs scored on each engine, at
    their own times), so the results below are each engine's first and second: the marts compare row for row."""
    from orchestration.lib.spark import step_session

    with duckdb.connect(str(warehouse)) as con:
        for table in HISTORY:
            con.execute(f"drop table if exists {table}")
    with step_session() as spark:
        for table in HISTORY:
            spark.sql(f"drop table if exists {table}")


def _spark_tables() -> dict[str, pd.DataFrame]:
    from orchestration.lib.spark import step_session

    with step_session() as spark:
        return {name: normal(spark_frame(spark, sql)) for name, sql in TABLES.items()}


def _duckdb_tables(warehouse: Path) -> dict[str, pd.DataFrame]:
    return {name: normal(query(warehouse, sql)) for name, sql in TABLES.items()}


def _move(warehouse: Path) -> tuple[set[int], str, str]:
    """The later result as if customers had changed: MOVED customers of the largest micro segment moved to the
    second largest (and its macro segment). Returns (moved, from, to)."""
    with duckdb.connect(str(warehouse)) as con:
        (largest, _), (second, macro) = con.execute(
            "select segment_id, any_value(macro_segment_id) from segments.customer_scores group by 1 "
            "order by count(*) desc, 1 limit 2").fetchall()
        moved = [r[0] for r in con.execute("select customer_id from segments.customer_scores where segment_id = ? "
                                           "order by customer_id limit ?", [largest, MOVED]).fetchall()]
        con.execute("update segments.customer_scores set segment_id = ?, macro_segment_id = ? "
                    "where list_contains(?, customer_id)", [second, macro, moved])
    return set(moved), largest, second


@dataclass(frozen=True)
class Marts:
    first: dict[str, dict[str, pd.DataFrame]]  # engine -> table -> rows, after the first result
    second: dict[str, dict[str, pd.DataFrame]]  # the same after the later result
    moved: set[int]
    moved_from: str
    moved_to: str
    spark_runs: list[dg.ExecuteInProcessResult]


def build_marts(warehouse: Path, spark_dir: Path, folder: Path) -> Marts:
    """Two results, each scored on DuckDB and copied to Spark, then dbt_segment_marts materialised with engine
    spark and with engine duckdb; the marts of each engine read after each result."""
    from pyspark.sql import SparkSession

    from orchestration.defs.automation.jobs import SCORES, SEGMENT_MARTS

    assert SparkSession.getActiveSession() is None, "a SparkSession is open: this module must run on its own"
    seen: dict[str, dict] = {}
    spark_runs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROSEG_WAREHOUSE", str(warehouse))
        mp.setenv("MICROSEG_SPARK_DIR", str(spark_dir))
        mp.setenv("MICROSEG_DEMO", "1")
        for name in ("MICROSEG_ENGINE", "MICROSEG_LANDING", "MICROSEG_INBOX"):
            mp.delenv(name, raising=False)
        defs = load_defs()

        def materialise(selection, engine: str) -> dg.ExecuteInProcessResult:
            result = _materialise(defs, selection, engine)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            return result

        _start_from_no_results(warehouse)
        moved = moved_from = moved_to = None
        for result in ("first", "second"):
            materialise(SCORES, "duckdb")
            if result == "second":
                moved, moved_from, moved_to = _move(warehouse)
            _copy_scores_to_spark(warehouse, folder / result)
            spark_runs.append(materialise(SEGMENT_MARTS, "spark"))
            materialise(SEGMENT_MARTS, "duckdb")
            seen[result] = {"spark": _spark_tables(), "duckdb": _duckdb_tables(warehouse)}
    return Marts(seen["first"], seen["second"], moved, moved_from, moved_to, spark_runs)


@pytest.fixture(scope="module")
def marts(runs, tmp_path_factory) -> Marts:
    return build_marts(runs.warehouse, runs.spark_dir, tmp_path_factory.mktemp("scores"))


def test_segment_kpis_are_the_same_on_both_engines(marts):
    for tables in (marts.first, marts.second):
        # each engine's own segmentation run: its id and time differ, its profiles do not
        duck, spark = (tables[e]["kpis"].drop(columns=["run_id", "segmented_at"]) for e in ("duckdb", "spark"))
        assert len(duck) >= 5 and duck["segment_id"].is_unique
        assert_same(spark, duck, check_exact=False, atol=TOLERANCE)


def test_segment_details_hold_the_same_customers_and_reasons(marts):
    for tables in (marts.first, marts.second):
        duck, spark = tables["duckdb"], tables["spark"]
        assert_same(spark["details"], duck["details"])
        # the reasons in rank order on Spark too (its listagg has no order: macro ordered_listagg)
        assert duck["why"]["why"].notna().sum() > CUSTOMERS / 2
        assert_same(spark["why"], duck["why"])
    first, second = (tables["duckdb"]["details"].set_index("segment_id")["customers"]
                     for tables in (marts.first, marts.second))
    assert first.sum() == second.sum() == CUSTOMERS
    assert second[marts.moved_to] - first[marts.moved_to] == MOVED


def test_the_first_result_opens_one_spell_per_customer_on_both_engines(marts):
    duck, spark = marts.first["duckdb"]["spells"], marts.first["spark"]["spells"]
    assert len(duck) == CUSTOMERS and duck["customer_id"].is_unique and duck["dbt_valid_to"].isna().all()
    assert_same(spark, duck)


def test_a_later_result_closes_and_opens_the_same_spells_on_both_engines(marts):
    duck, spark = marts.second["duckdb"]["spells"], marts.second["spark"]["spells"]
    first_scored, later_scored = marts.second["duckdb"]["ledger"]["scored_at"]
    per_customer = duck.groupby("customer_id").size()
    assert set(per_customer[per_customer == 2].index) == marts.moved  # a spell closed and one opened
    for spells in (duck, spark):
        moved = spells[spells["customer_id"].isin(marts.moved)]
        closed, opened = moved[moved["dbt_valid_to"].notna()], moved[moved["dbt_valid_to"].isna()]
        assert set(closed["segment_id"]) == {marts.moved_from} and (closed["dbt_valid_to"] == later_scored).all()
        assert set(opened["segment_id"]) == {marts.moved_to} and (opened["dbt_valid_from"] == later_scored).all()
        stayed = spells[~spells["customer_id"].isin(marts.moved)]
        assert (stayed["dbt_valid_from"] == first_scored).all() and stayed["dbt_valid_to"].isna().all()
    assert_same(spark, duck)


def test_migrations_count_the_same_moves_on_both_engines(marts):
    duck, spark = marts.second["duckdb"]["migrations"], marts.second["spark"]["migrations"]
    assert_same(spark, duck, check_exact=False, atol=TOLERANCE)
    moves = duck[duck["moved"]][["result_id", "from_segment_id", "to_segment_id", "customers"]].values.tolist()
    later = marts.second["duckdb"]["ledger"]["result_id"].iloc[-1]
    assert moves == [[later, marts.moved_from, marts.moved_to, MOVED]]


def test_spark_marks_each_result_complete_once_its_marts_are_built(marts):
    ledger = marts.second["spark"]["ledger"]
    assert len(ledger) == 2 and (ledger["completed_at"] >= ledger["scored_at"]).all()
    assert ledger["result_id"].tolist() == marts.second["duckdb"]["ledger"]["result_id"].tolist()
    events = marts.spark_runs[-1].get_asset_materialization_events()
    history = [e.materialization.metadata for e in events
               if e.asset_key == dg.AssetKey(["segments_history", "customer_segment_history"])]
    assert history and history[0]["engine"].value == "spark"
    assert history[0]["dagster/row_count"].value == CUSTOMERS + MOVED
