"""The segmentation's work inside the warehouse: what it reads to fit, and every per-customer step after.

Only a bounded sample of the feature mart reaches Python (the fit); the assignment, the overlaps that keep
ids stable, the counts the checks judge, the drift reference and the published per-customer tables are
queries over the warehouse's own tables (``ml.segmentation_sql``, ``ml.scoring_sql``, ``ml.drift``), and
the profiles are built from per-segment aggregates one query returns (``ml.segment_summary``). The
explanations are computed in Python chunk by chunk, so memory stays flat at any number of customers.

Every step speaks the portable SQL of ``ml`` through the run's engine (``orchestration.lib.sql_warehouse``:
DuckDB or Spark). Work tables live in schema ``segmentation_work`` under the run's id, outside the published
schemas (the snapshot never copies them); the publish is one transaction on DuckDB (written aside and swapped
in on Spark), and the work tables are dropped whatever happens.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pandas as pd

from ml.drift import bin_edges, binned_counts_sql, long_counts, reference_bins, reference_from_counts
from ml.explanations import CHUNK, explain_customers
from ml.segment_summary import (profiles_from_summary, region_counts_sql, summary_columns, summary_sql,
                                traits_from_summary)
from ml.segment_ids import LEVELS, LevelOverlaps, overlaps_from_counts
from ml.segmentation import SegmentationResult, model_tables
from ml.segmentation_sql import (far_from_fit_sql, input_summary_sql, overlaps_sql, percentile, relabel_sql,
                                 sample_sql)
from ml.scoring_sql import quote_identifier, scoring_sql, sql_string
from orchestration.defs.segmentation.run_record import AssignmentCounts, InputSummary, drift_columns
from orchestration.lib.sql_warehouse import DuckDBWarehouse, SparkWarehouse

FEATURES = "marts.customer_features_wide"  # customer_features + category shares
WORK_SCHEMA = "segmentation_work"
SEGMENTS = "segments.customer_segments"


@dataclass(frozen=True)
class FitInput:
    """What the fit reads: the input's summary, a bounded sample of it, and the published result before."""
    inputs: InputSummary
    sample: pd.DataFrame
    previous_sample: pd.DataFrame | None  # the sample's customers' published segments, for a warm start
    issued: set[str]  # every segment id ever issued
    previous_run_id: str | None


Warehouse = DuckDBWarehouse | SparkWarehouse


def read_fit_input(warehouse: Warehouse, sample_size: int, seed: int) -> FitInput:
    """The feature mart's size and fingerprint, a sample of at most ``sample_size`` customers (all of them
    when they fit), and what the published result says about those customers."""
    dialect = warehouse.dialect
    with warehouse.session(read_only=True) as sql:
        columns = sql.columns(FEATURES)
        customers, as_of, checksum = sql.one(input_summary_sql(FEATURES, columns, dialect))
        sample_query = sample_sql(FEATURES, sample_size, seed, customers, dialect)
        sample = sql.df(sample_query)
        inputs = InputSummary.of_checksum(customers, as_of, checksum, fitted_on=len(sample))
        if not sql.has_table("segments", "customer_segments"):
            return FitInput(inputs, sample, None, set(), None)
        previous_sample = sql.df(
            f"select customer_id, macro_segment_id, segment_id from {SEGMENTS} "
            f"where customer_id in (select customer_id from ({sample_query}) as s)")
        issued = {r[0] for r in sql.rows(
            f"select macro_segment_id from {SEGMENTS} union select segment_id from {SEGMENTS}")}
        if sql.has_table("segments", "segment_lineage"):
            issued |= {r[0] for r in sql.rows("select distinct segment_id from segments.segment_lineage "
                                              "where segment_id is not null")}
        row = sql.one(f"select run_id from {SEGMENTS} limit 1")
    return FitInput(inputs, sample, previous_sample, issued, row[0] if row else None)


@contextmanager
def work_tables(warehouse: Warehouse, run_id: str) -> Iterator["SegmentationWork"]:
    """The run's work tables, dropped when the block ends, whether it published or failed."""
    work = SegmentationWork(warehouse, run_id)
    try:
        yield work
    finally:
        with warehouse.session() as sql:
            for table in work.tables():
                sql.run(f"drop table if exists {table}")


class SegmentationWork:
    """One run's per-customer steps, each a short session on the warehouse."""

    def __init__(self, warehouse: Warehouse, run_id: str):
        self.warehouse, self.dialect = warehouse, warehouse.dialect
        suffix = run_id.replace("-", "_")
        self.fitted = f"{WORK_SCHEMA}.fitted_{suffix}"  # every customer under the fitted ids
        self.assigned = f"{WORK_SCHEMA}.assigned_{suffix}"  # ... under the stable ids
        self.explained = f"{WORK_SCHEMA}.explained_{suffix}"

    def tables(self) -> list[str]:
        return [self.fitted, self.assigned, self.explained]

    def assign_fitted(self, fitted: SegmentationResult) -> None:
        """Every customer of the mart to the fitted model, in SQL: the sample's own assignment, for all."""
        scaling, centroids = model_tables(fitted)
        with self.warehouse.session() as sql:
            sql.create_table_as(self.fitted, scoring_sql(scaling, centroids, FEATURES, self.dialect))

    def overlaps(self, previous_run_id: str | None) -> dict[str, LevelOverlaps]:
        """Per level, the overlaps of this fit's segments with the published ones (and which of the shared
        customers the latest scoring found no longer fitting), both results' ids: what ids are matched on."""
        with self.warehouse.session(read_only=True) as sql:
            current = {level: sorted(r[0] for r in sql.rows(f"select distinct {column} from {self.fitted}"))
                       for level, column in LEVELS.items()}
            if not sql.has_table("segments", "customer_segments"):
                empty = overlaps_from_counts(pd.DataFrame(columns=["previous", "current", "customers", "far_customers",
                                                                   "previous_size", "current_size"]))
                return {level: LevelOverlaps(empty, set(), current[level]) for level in LEVELS}
            far = (far_from_fit_sql("segments.customer_scores", SEGMENTS, previous_run_id, self.dialect)
                   if previous_run_id and sql.has_table("segments", "customer_scores") else None)
            counts = sql.df(overlaps_sql(self.fitted, SEGMENTS, far, self.dialect))
            previous = {level: {r[0] for r in sql.rows(f"select distinct {column} from {SEGMENTS}")}
                        for level, column in LEVELS.items()}
        return {level: LevelOverlaps(overlaps_from_counts(counts[counts["level"] == level]), previous[level],
                                     current[level]) for level in LEVELS}

    def assign_stable(self, mapping: dict[str, str], customers: int) -> AssignmentCounts:
        """Every customer under the stable ids; what the every-customer-once check needs, counted against the
        ``customers`` the input summary counted in the mart."""
        with self.warehouse.session() as sql:
            sql.create_table_as(self.assigned, relabel_sql(self.fitted, mapping, dialect=self.dialect))
            rows, distinct, unassigned = sql.one(
                f"select count(*), count(distinct customer_id), "
                f"sum(case when segment_id is null then 1 else 0 end) from {self.assigned}")
        return AssignmentCounts(customers=customers, rows=rows, repeated=rows - distinct,
                                unassigned=int(unassigned or 0))

    def profiles(self, stability: pd.Series, total_budget: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(traits, profiles) from per-segment aggregates the warehouse computes: a few dozen rows reach Python."""
        with self.warehouse.session(read_only=True) as sql:
            empty = sql.df(f"select * from {FEATURES} limit 0")
            summary = sql.df(summary_sql(FEATURES, self.assigned, summary_columns(empty), self.dialect))
            regions = (sql.df(region_counts_sql(FEATURES, self.assigned, self.dialect))
                       if "region" in empty.columns else None)
        traits = traits_from_summary(summary)
        return traits, profiles_from_summary(summary, regions, stability, traits, total_budget)

    def reference(self, result: SegmentationResult, sample: pd.DataFrame) -> pd.DataFrame:
        """The drift reference: decile edges from the fit's sample, every customer counted into those bins (the
        base and per macro segment), the 95th percentile distance and the segments' shares, in the warehouse."""
        edges = bin_edges(sample, drift_columns(result))
        bins = reference_bins(edges)
        with self.warehouse.session(read_only=True) as sql:
            shares = long_counts(sql.df(binned_counts_sql(bins, FEATURES, self.assigned, self.dialect)), bins) \
                if edges else pd.DataFrame(columns=["scope", "feature", "bin", "share"])
            (p95,) = sql.one(f"select {percentile('distance', 0.95, self.dialect)} from {self.assigned}")
            sizes = sql.df(f"select segment_id, count(*) as customers from {self.assigned} "
                           f"group by segment_id").set_index("segment_id")["customers"]
        return reference_from_counts(edges, shares, p95, sizes / sizes.sum())

    def explain(self, result: SegmentationResult, sample: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
        """Every customer's explanation, a chunk at a time from the warehouse into a work table; returns how
        many customers each feature explains first, and a few rows for the UI."""
        scaling, centroids = model_tables(result)
        used = sorted(set(scaling["source_column"]))  # what the model reads is all an explanation can name
        numeric = [c for c in used if pd.api.types.is_numeric_dtype(sample[c])]
        means = ", ".join(f"avg(cast({quote_identifier(c, self.dialect)} as double))" for c in numeric)
        read = ", ".join(f"f.{quote_identifier(c, self.dialect)}" for c in ["customer_id", *used])
        written, example, first = 0, pd.DataFrame(), pd.Series(dtype="int64")
        with self.warehouse.session() as sql:
            population = dict(zip(numeric, sql.one(f"select {means} from {FEATURES}"))) if numeric else {}
            # any order: each customer is explained on their own, the publish sorts
            for chunk in sql.chunks(f"select {read}, a.macro_segment_id as macro_segment_id__, "
                                    f"a.segment_id as segment_id__ from {FEATURES} as f "
                                    f"inner join {self.assigned} as a on f.customer_id = a.customer_id", CHUNK):
                assignments = chunk[["customer_id", "macro_segment_id__", "segment_id__"]].rename(
                    columns=lambda c: c.removesuffix("__"))
                features = chunk.drop(columns=["macro_segment_id__", "segment_id__"])
                out = explain_customers(features, scaling, centroids, assignments, population_means=population)
                sql.write_frame(self.explained, out, append=bool(written))
                written += len(out)
                example = out if example.empty else example
                first = first.add(out.loc[out["rank"] == 1, "feature"].value_counts(), fill_value=0)
        return first.astype("int64").sort_values(ascending=False, kind="stable"), example.head(9)

    def publish(self, run_id: str, names: dict[str, str], replace: dict[str, pd.DataFrame],
                append: dict[str, pd.DataFrame]) -> dict[str, dict]:
        """Every table of the result in one publish: the per-customer ones from the work tables, the rest from
        frames. A failure while writing publishes none of it. Returns the per-customer tables' metadata."""
        run = sql_string(run_id, self.dialect)
        segments = (f"select customer_id, macro_segment_id, segment_id, segment_name, macro_distance, distance, "
                    f"{run} as run_id from ({relabel_sql(self.assigned, {}, names, self.dialect)}) as named "
                    f"order by customer_id")
        with self.warehouse.publishing("segments") as publish:
            publish.table_as("customer_segments", segments)
            publish.table_as("customer_explanations",
                             f"select *, {run} as run_id from {self.explained} order by customer_id, rank")
            publish.frames(replace, append)
            return {table: publish.metadata(table) for table in ("customer_segments", "customer_explanations")}
