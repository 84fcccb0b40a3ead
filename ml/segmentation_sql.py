"""The segmentation's per-customer work as portable SQL, so the customers never leave the warehouse.

The fit needs a bounded sample (``sample_sql``); everything about every customer is then a query:
the input's size and fingerprint (``input_summary_sql``), the assignment (``ml.scoring_sql``), the
overlaps that keep segment ids stable across refits (``overlaps_sql``, read by ``ml.segment_ids``),
the stable ids written onto the assignment (``relabel_sql``) and the fit's 95th percentile distance.

Portable like the scoring SELECT: CTEs, CASE, COUNT/SUM/AVG, md5/concat/hash, which DuckDB and Spark SQL
both have. What differs between them (text type, percentile function, identifier quotes) is looked up
by ``dialect`` ("ansi" for DuckDB, "spark").
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ml.scoring_sql import quote_identifier, sql_number, sql_string

TEXT_TYPE = {"ansi": "varchar", "spark": "string"}


def percentile(column: str, fraction: float, dialect: str = "ansi") -> str:
    """The ``fraction`` quantile, interpolated linearly between values as numpy's default does."""
    function = "percentile" if dialect == "spark" else "quantile_cont"
    return f"{function}({column}, {sql_number(fraction)})"


def sample_sql(relation: str, size: int, seed: int, customers: int, dialect: str = "ansi") -> str:
    """At most ``size`` rows of ``relation`` (``customers`` rows in all), ordered by customer_id.

    All of them when they fit; otherwise a deterministic uniform sample: the rows whose hashed
    (customer_id, seed) sort first, so the same data and seed give the same sample on any engine
    and in any row order, and a customer's chance does not depend on their id's shape."""
    if customers <= size:
        return f"select * from {relation} order by customer_id"
    key = f"md5(concat(cast(customer_id as {TEXT_TYPE[dialect]}), {sql_string(f':{seed}', dialect)}))"
    return (f"select * from (select * from {relation} order by {key} limit {int(size)}) as sampled "
            f"order by customer_id")


def input_summary_sql(relation: str, columns: Iterable[str], dialect: str = "ansi") -> str:
    """customers, as_of_date (the latest, when the relation has one) and a checksum of every row's values.

    The checksum is a sum of row hashes: independent of row order, and it moves when any value of any row
    does. Hash functions differ between engines, so it is comparable only within one."""
    columns = list(columns)
    hashed = ", ".join(quote_identifier(c, dialect) for c in columns)
    as_of = "max(as_of_date)" if "as_of_date" in columns else "null"
    return (f"select count(*) as customers, {as_of} as as_of_date, "
            f"sum(hash({hashed}) % 1000000007) as checksum from {relation}")


def far_from_fit_sql(scores: str, segments: str, model_run_id: str, dialect: str = "ansi") -> str:
    """Per customer the latest scoring under the model of ``segments`` (``model_run_id``) saw: 1.0 where they
    no longer fit their segment (scored into another one, new since, or beyond their segment's 95th percentile
    fit distance), else 0.0."""
    return (
        f"with p95 as (\n"
        f"    select segment_id, {percentile('distance', 0.95, dialect)} as distance_p95\n"
        f"    from {segments} group by segment_id\n"
        f")\n"
        f"select s.customer_id,\n"
        f"       case when fit.segment_id is null or s.segment_id <> fit.segment_id "
        f"or s.distance > p95.distance_p95 then 1.0 else 0.0 end as far\n"
        f"from {scores} as s\n"
        f"left join {segments} as fit on s.customer_id = fit.customer_id\n"
        f"left join p95 on s.segment_id = p95.segment_id\n"
        f"where s.model_run_id = {sql_string(model_run_id, dialect)}"
    )


def overlaps_sql(current: str, previous: str, far: str | None, dialect: str = "ansi") -> str:
    """Per level and (previous, current) segment pair: the customers both hold, how many of those no longer
    fitted the previous segment (``far``: customer_id, far), and the two segments' sizes among the current
    customers: what ``ml.segment_ids`` matches on. ``current`` and ``previous`` have customer_id,
    macro_segment_id and segment_id."""
    far_join = f"left join ({far}) as far on c.customer_id = far.customer_id" if far else ""
    far_value = "coalesce(far.far, 0.0)" if far else "0.0"
    levels = []
    for level, column in (("macro", "macro_segment_id"), ("micro", "segment_id")):
        levels.append(
            f"select {sql_string(level, dialect)} as level, previous, current, customers, far_customers,\n"
            f"       sum(customers) over (partition by previous) as previous_size,\n"
            f"       current_size\n"
            f"from (\n"
            f"    select previous_{column} as previous, {column} as current, count(*) as customers,\n"
            f"           sum(far) as far_customers\n"
            f"    from joined where previous_{column} is not null group by previous_{column}, {column}\n"
            f") as pairs\n"
            f"inner join (select {column} as sized, count(*) as current_size from joined group by {column}) as sizes\n"
            f"    on pairs.current = sizes.sized"
        )
    return (
        f"with joined as (\n"
        f"    select c.customer_id, c.macro_segment_id, c.segment_id,\n"
        f"           p.macro_segment_id as previous_macro_segment_id, p.segment_id as previous_segment_id,\n"
        f"           {far_value} as far\n"
        f"    from {current} as c\n"
        f"    left join {previous} as p on c.customer_id = p.customer_id\n"
        f"    {far_join}\n"
        f")\n" + "\nunion all\n".join(levels)
    )


def relabel_sql(assignments: str, mapping: Mapping[str, str] | None = None, names: Mapping[str, str] | None = None,
                dialect: str = "ansi") -> str:
    """``assignments`` (customer_id, macro_segment_id, segment_id, macro_distance, distance) under the ids of
    ``mapping`` (fitted id -> stable id; none keeps them), with each segment's name when ``names`` (id after
    the mapping -> name) is given."""
    def case(column: str, values: Mapping[str, str] | None) -> str:
        if not values:
            return column
        whens = " ".join(f"when {sql_string(k, dialect)} then {sql_string(v, dialect)}" for k, v in values.items())
        return f"case {column} {whens} end"

    named = f", {case(case('segment_id', mapping), names)} as segment_name" if names else ""
    return (f"select customer_id, {case('macro_segment_id', mapping)} as macro_segment_id, "
            f"{case('segment_id', mapping)} as segment_id{named}, macro_distance, distance from {assignments}")
