"""The persisted model as one SQL query, so scoring runs inside the warehouse.

``scoring_sql`` turns ``segments.model_scaling`` and ``segments.model_centroids``
(one run's rows) into a SELECT over a feature relation that returns the same
columns as ``ml.scoring.assign_segments``: customer_id, macro_segment_id,
segment_id, macro_distance, distance. Nothing leaves the warehouse, so scoring ten
million customers needs no more memory in Python than scoring ten.

The SQL is portable on purpose: CTEs, CASE, ln/sqrt/least/greatest, a cross join
with a handful of centroids and ``row_number()`` for the nearest one. DuckDB, Trino,
Spark SQL, Postgres and Snowflake all accept it. Constants are written in exponent
form so every engine reads them as DOUBLE, not DECIMAL. Only identifiers are quoted
differently: Spark SQL (ANSI mode off, as dbt-spark runs it) reads "x" as a string
literal, so ``dialect="spark"`` quotes them with backticks.
"""

from __future__ import annotations

import pandas as pd

from ml.scoring import level_rows


def sql_number(value: float) -> str:
    return f"{float(value):.17e}"


# how each SQL dialect quotes an identifier; "ansi" is DuckDB's, Trino's, Postgres' and Snowflake's
IDENTIFIER_QUOTES = {"ansi": '"', "spark": "`"}


def quote_identifier(name: str, dialect: str = "ansi") -> str:
    quote = IDENTIFIER_QUOTES[dialect]
    return quote + name.replace(quote, quote * 2) + quote


def sql_string(value: str, dialect: str = "ansi") -> str:
    """A SQL string literal. Spark reads '' as two adjacent literals and a backslash as an escape."""
    if dialect == "spark":
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + str(value).replace("'", "''") + "'"


def _scaled_expression(row, dialect: str) -> str:
    """One output column of the clustering matrix, exactly as ``FeatureScaler.transform`` computes it."""
    source = quote_identifier(row.source_column, dialect)
    if row.kind == "onehot":
        x = f"case when {source} = {sql_string(row.category_value, dialect)} then 1.0 else 0.0 end"
    else:
        x = f"coalesce(cast({source} as double), {sql_number(row.fill_value)})"
        if row.log1p:
            x = f"ln(1.0 + greatest({x}, 0.0))"
        x = f"least(greatest({x}, {sql_number(row.clip_low)}), {sql_number(row.clip_high)})"
    return f"({x} - {sql_number(row.center)}) / {sql_number(row.scale)} * {sql_number(row.weight)}"


def _level_ctes(name: str, scaling: pd.DataFrame, centroids: pd.DataFrame, source: str,
                where: str = "", dialect: str = "ansi") -> list[str]:
    """CTEs that scale the rows of ``source`` for one model and pick each row's nearest centroid.

    The last, ``<name>_nearest``, holds (customer_id, segment_id, distance).
    """
    params = scaling.reset_index(drop=True)
    columns = [f"x{i}" for i in range(len(params))]
    scaled = ",\n        ".join(f"{_scaled_expression(row, dialect)} as {col}" for row, col in zip(params.itertuples(), columns))
    wide = centroids.pivot(index="segment_id", columns="output_column", values="value")[params["output_column"]]
    values = ",\n        ".join(
        "(" + ", ".join([sql_string(sid, dialect), *(sql_number(v) for v in vec)]) + ")"
        for sid, vec in zip(wide.index, wide.to_numpy())
    )
    squared = "\n            + ".join(f"(s.{c} - c.{c}) * (s.{c} - c.{c})" for c in columns)
    ctes = [
        f"{name}_scaled as (\n    select customer_id,\n        {scaled}\n    from {source}{where}\n)",
        f"{name}_centroids (segment_id, {', '.join(columns)}) as (\n    values\n        {values}\n)",
        f"{name}_distances as (\n    select s.customer_id, c.segment_id,\n"
        f"        {squared} as squared_distance\n"
        f"    from {name}_scaled as s\n    cross join {name}_centroids as c\n)",
        f"{name}_nearest as (\n    select customer_id, segment_id, sqrt(greatest(squared_distance, 0.0)) as distance\n"
        f"    from (\n        select customer_id, segment_id, squared_distance,\n"
        f"               row_number() over (partition by customer_id order by squared_distance, segment_id) as rank_\n"
        f"        from {name}_distances\n    ) as ranked\n    where rank_ = 1\n)",
    ]
    return ctes


def scoring_sql(scaling: pd.DataFrame, centroids: pd.DataFrame, features_relation: str,
                dialect: str = "ansi") -> str:
    """A SELECT that assigns every row of ``features_relation`` to the model in the two tables.

    ``scaling`` and ``centroids`` are one run's rows of ``segments.model_scaling`` and
    ``segments.model_centroids``; ``features_relation`` is a table name or a parenthesised
    query with ``customer_id`` and the model's source columns. ``dialect`` is a key of
    ``IDENTIFIER_QUOTES``: how the engine quotes a column name.
    """
    if scaling.empty or centroids.empty:
        raise ValueError("no fitted model to score with: run the segmentation (segment_customers job) first")
    ctes = [f"features as (\n    select * from {features_relation}\n)"]
    ctes += _level_ctes("macro", level_rows(scaling, "macro", None), level_rows(centroids, "macro", None),
                        "features", dialect=dialect)
    ctes.append(f"with_macro as (\n    select f.*, m.segment_id as macro_segment_id__, m.distance as macro_distance__\n"
                f"    from features as f\n    inner join macro_nearest as m on f.customer_id = m.customer_id\n)")
    micro_selects = []
    for i, parent in enumerate(sorted(level_rows(centroids, "macro", None)["segment_id"].unique())):
        ctes += _level_ctes(
            f"micro{i}", level_rows(scaling, "micro", parent), level_rows(centroids, "micro", parent), "with_macro",
            where=f"\n    where macro_segment_id__ = {sql_string(parent, dialect)}", dialect=dialect,
        )
        micro_selects.append(f"select customer_id, segment_id, distance from micro{i}_nearest")
    ctes.append("micro as (\n    " + "\n    union all\n    ".join(micro_selects) + "\n)")
    return (
        "with " + ",\n".join(ctes) + "\n"
        "select w.customer_id, w.macro_segment_id__ as macro_segment_id, m.segment_id,\n"
        "       w.macro_distance__ as macro_distance, m.distance\n"
        "from with_macro as w\n"
        "inner join micro as m on w.customer_id = m.customer_id"
    )
