"""Load the files of a sources file into the raw tables, with DuckDB's own readers.

For each file: read it (CSV as text, so every value is judged by us, not guessed), cast
every contract column, and quarantine each row that cannot be trusted, with its file,
line, column, reason and (where it can be read) customer, in ``raw._quarantine``. Rows
read = rows loaded + rows quarantined, per file, in ``raw._loads``. A file that cannot be read at all, or lacks a
required column, fails the load with the file named, and nothing of the run is kept
(the caller's transaction).

Transactions are the one entity whose shape differs from the raw tables: each line
becomes an order (its own, unless an order id groups lines) and an order line; a
category without a product becomes a product of that category; a customer seen only in
transactions becomes a customer row (marked as derived), so nobody is an orphan.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ml.scoring_sql import quote_identifier, sql_string
from orchestration.lib.contract import RAW_TABLES, Column, columns_of
from orchestration.lib.files import (LEDGER, QUARANTINE, _ensure_ledger, ensure_raw_table, insert_each_key_once,
                                     keys_in_other_sources, number_lines, sha256_of, value_checks, why_untrusted)
from orchestration.lib.sources import Source, SourcesFile

ID_KEYS = "raw._id_keys"  # ids that are not integers, by the integer key they are loaded under
ID_KEY_SPACE = 10**15
DERIVED = "derived from transactions"
# the raw table each entity loads into (transactions load into orders and order_items)
TARGETS = {"customers": ["customers"], "products": ["products"], "web_events": ["web_events"],
           "marketing_touches": ["marketing_touches"],
           "transactions": ["orders", "order_items", "products", "customers"]}
@dataclass(frozen=True)
class FileLoad:
    source: str
    entity: str
    file: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    skipped: bool
    rows_duplicate: int = 0  # its key and values already loaded (or a later line of the file is its newer version)
    rows_conflicting: int = 0  # keys loaded before with other values: this file's version won (raw._conflicts)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every raw table dbt reads exists, with the contract's columns, even when no source feeds it."""
    for table in RAW_TABLES:
        ensure_raw_table(con, table)
    con.execute(f"create table if not exists {ID_KEYS} (column_name varchar, id bigint, source_value varchar, "
                "source varchar)")
    _ensure_ledger(con)


def _reader(source: Source, path: Path, fmt: str) -> str:
    if fmt == "csv":
        o = source.csv
        return (f"read_csv({sql_string(str(path))}, delim={sql_string(o.delimiter)}, header={str(o.header).lower()}, "
                f"all_varchar=true, encoding={sql_string(o.encoding)}, store_rejects=true, "
                f"rejects_table='_rejects', rejects_scan='_rejects_scan')")
    if fmt == "parquet":
        return f"read_parquet({sql_string(str(path))})"
    return f"read_json({sql_string(str(path))}, format='newline_delimited')"


def _cast(column: Column, value: str, source: Source, as_text: bool) -> str:
    """A SQL expression casting ``value`` to the column's type, NULL when it cannot be read."""
    t, o = column.sql_type, source.csv
    if not as_text:
        return f"try_cast({value} as {t})"
    if t in ("DOUBLE", "BIGINT"):
        number = f"replace(replace({value}, '.', ''), ',', '.')" if o.decimal == "," else value
        return f"try_cast({number} as {t})"
    if t == "TIMESTAMP":
        formats = [f for f in (o.timestamp_format, o.date_format) if f]
        if formats:
            return "coalesce(" + ", ".join(f"try_strptime({value}, {sql_string(f)})" for f in formats) + ")"
        return f"try_cast({value} as timestamp)"
    if t == "DATE":
        if o.date_format:
            return f"cast(try_strptime({value}, {sql_string(o.date_format)}) as date)"
        return f"try_cast({value} as date)"
    if t == "BOOLEAN":
        return (f"case when lower({value}) in ('1', 'true', 't', 'yes', 'y') then true "
                f"when lower({value}) in ('0', 'false', 'f', 'no', 'n') then false end")
    return value


def _read_file(con: duckdb.DuckDBPyConnection, source: Source, path: Path) -> tuple[int, int]:
    """The file as temp view _file (with _line); returns (rows read, rows rejected by the reader)."""
    fmt = source.resolved_format(path)
    con.execute("drop table if exists _rejects; drop table if exists _rejects_scan")
    try:
        con.execute(f"create or replace temp table _file_read as select * from {_reader(source, path, fmt)}")
    except duckdb.Error as exc:
        raise ValueError(f"{path}: cannot be read as {fmt} (source {source.name!r}): {exc}") from exc
    (n,) = con.execute("select count(*) from _file_read").fetchone()
    first = 2 if fmt == "csv" and source.csv.header else 1
    rejected = []
    if fmt == "csv":
        rejected = con.execute("select distinct line from _rejects order by line").fetchall()
        rejected = [r[0] for r in rejected]
        con.execute(f"""insert into _quarantined_lines
            select line, coalesce(column_name, 'line'), error_type || ': ' || error_message, null
            from (select *, row_number() over (partition by line order by column_idx) as k from _rejects) where k = 1""")
    number_lines(con, "_file_read", "_file", n, first, rejected)
    return n + len(rejected), len(rejected)


def _map_file(con: duckdb.DuckDBPyConnection, source: Source, path: Path) -> None:
    """_file -> _mapped: every contract column cast, and why a row cannot be trusted (_column, _reason)."""
    file_columns = [r[0] for r in con.execute("describe _file").fetchall() if r[0] != "_line"]
    as_text = source.resolved_format(path) == "csv"
    casts: dict[str, str] = {}
    keyed: dict[str, str] = {}  # id column -> its text in the file
    checks: list[tuple[str, str, str]] = []  # (column, condition, reason) in the order they are judged
    for column in columns_of(source.entity).values():
        if column.name in source.constants:
            casts[column.name] = _cast(column, sql_string(source.constants[column.name]), source, True)
            continue
        name = source.file_column(column.name)
        if name not in file_columns:
            if column.required:
                raise ValueError(f"{path}: required column {column.name!r} (file column {name!r}) is not in the file; "
                                 f"it has {file_columns}. Map it under columns: in source {source.name!r}, "
                                 "or give it under constants:.")
            casts[column.name] = f"cast(null as {column.sql_type})"
            continue
        raw = f"nullif(trim(cast({quote_identifier(name)} as varchar)), '')"
        cast = _cast(column, raw if as_text else quote_identifier(name), source, as_text)
        if column.name.endswith("_id") and column.sql_type == "BIGINT":
            # an id that is not an integer ("C-00123") is loaded under a stable integer key; raw._id_keys maps back
            cast = (f"coalesce(try_cast({raw} as BIGINT), case when {raw} is not null then "
                    f"cast(hash({sql_string(column.name)}, {raw}) % {ID_KEY_SPACE} as BIGINT) end)")
            keyed[column.name] = raw
        casts[column.name] = cast
        checks += value_checks(column.name, column.sql_type, raw, cast, column)
    if source.entity == "transactions" and "quantity" in casts:
        checks.append(("quantity", f"{casts['quantity']} = 0", "'quantity is 0'"))
    selected = ", ".join(f"{expr} as {quote_identifier(name)}" for name, expr in casts.items())
    originals = "".join(f", {raw} as {quote_identifier('_text_' + name)}" for name, raw in keyed.items())
    con.execute(f"create or replace temp table _mapped as select _line, {selected}{originals}, "
                f"{why_untrusted(checks)} from _file")
    # every id not written as its integer ("C-00123", "000123"), also on quarantined lines: the marts show it
    for name in keyed:
        text = quote_identifier('_text_' + name)
        con.execute(f"""insert into {ID_KEYS}
            select distinct {sql_string(name)}, {quote_identifier(name)}, {text}, {sql_string(source.name)} from _mapped
            where {quote_identifier(name)} is not null and cast({quote_identifier(name)} as varchar) <> {text}
              and {quote_identifier(name)} not in (select id from {ID_KEYS} where column_name = {sql_string(name)})""")
    customer = "customer_id" if "customer_id" in casts else "null"
    con.execute(f"insert into _quarantined_lines select _line, _column, _reason, {customer} from _mapped "
                "where _reason is not null")


def _write_transactions(con: duckdb.DuckDBPyConnection, source: Source, path: Path, loaded_at: dt.datetime) -> int:
    tag = f"{sql_string(source.name)} as _source, {sql_string(path.name)} as _file, ? as _loaded_at"
    line_key = f"abs(hash({sql_string(source.name)}, {sql_string(path.name)}, _line)) % 1000000000000000"
    con.execute(f"""create or replace temp table _tx as
        select *, coalesce(order_id, {line_key}) as _order_id, {line_key} as _line_id,
               coalesce(product_id, case when category is not null
                   then abs(hash('category', lower(trim(category)))) % 1000000000000000 end) as _product_id,
               coalesce(quantity, 1) as _quantity, least(coalesce(discount_pct, 0), 0.99) as _discount
        from _mapped where _reason is null""")
    con.execute(f"""insert into raw.orders by name
        select _order_id as order_id, customer_id, ordered_at as order_ts, channel, device, _discount as discount_pct,
               coalesce(status, case when amount < 0 then 'returned' else 'completed' end) as status, {tag}
        from (select *, row_number() over (partition by _order_id order by _line) as k from _tx) where k = 1""",
                [loaded_at])
    (rows,) = con.execute(f"""insert into raw.order_items by name
        select _line_id as order_item_id, _order_id as order_id, _product_id as product_id,
               case when amount < 0 then 'refund' else 'sale' end as line_type,
               case when amount < 0 then -abs(_quantity) else abs(_quantity) end as quantity,
               abs(amount) / abs(_quantity) / (1 - _discount) as unit_price, {tag}
        from _tx""", [loaded_at]).fetchone()
    con.execute(f"""insert into raw.products by name
        select distinct _product_id as product_id, lower(trim(category)) as product_name,
               lower(trim(category)) as category, {tag}
        from _tx where product_id is null and category is not null
          and _product_id not in (select product_id from raw.products where product_id is not null)""", [loaded_at])
    con.execute(f"""insert into raw.customers by name
        select distinct customer_id, {sql_string(source.name)} as _source, {sql_string(DERIVED)} as _file, ? as _loaded_at
        from _tx where customer_id not in (select customer_id from raw.customers where customer_id is not null)""",
                [loaded_at])
    return rows


def _write_entity(con: duckdb.DuckDBPyConnection, source: Source, path: Path, loaded_at: dt.datetime,
                  run_id: str | None) -> tuple[int, int, int]:
    """(loaded, duplicate, conflicting): each key enters raw once, the newest export winning (files.insert_each_key_once)."""
    if source.entity == "customers":  # a real customer row replaces one derived from transactions
        con.execute(f"delete from raw.customers where _file = {sql_string(DERIVED)} and customer_id in "
                    "(select customer_id from _mapped where _reason is null)")
    return insert_each_key_once(con, source.entity, list(columns_of(source.entity)),
                              [source.name, path.name, loaded_at, run_id])


def source_for_file(sources: SourcesFile, path: Path) -> Source | None:
    """The source whose path pattern names this file (by file name: a file dropped in the inbox)."""
    return next((s for s in sources.sources if fnmatch.fnmatch(path.name, Path(s.path).name)), None)


def load_source(con: duckdb.DuckDBPyConnection, sources: SourcesFile, source: Source,
                run_id: str | None = None, files: list[Path] | None = None) -> list[FileLoad]:
    """Load one source's files in the caller's transaction; returns what happened to each file.

    ``files`` (e.g. one dropped in the inbox) are appended with the source's mapping, whatever its mode.
    """
    if files is not None:
        source = source.model_copy(update={"mode": "incremental"})
    files = sources.files_of(source) if files is None else files
    if not files:
        raise ValueError(f"source {source.name!r}: no file matches {source.path!r} (relative to {sources.path})")
    ensure_raw_tables(con)
    hashes = {p: sha256_of(p) for p in files}
    seen = {r[0] for r in con.execute(f"select sha256 from {LEDGER} where source = ?", [source.name]).fetchall()}
    if source.mode == "full":
        last = con.execute(f"select list(sha256 order by sha256) from {LEDGER} where source = ? and loaded_at = "
                           f"(select max(loaded_at) from {LEDGER} where source = ?)", [source.name, source.name]
                           ).fetchone()[0]
        if last and sorted(last) == sorted(hashes.values()):
            return [FileLoad(source.name, source.entity, p.name, 0, 0, 0, True) for p in files]
        for table in TARGETS[source.entity]:  # a full export replaces everything this source loaded before
            con.execute(f"delete from raw.{table} where _source = ?", [source.name])
        con.execute(f"delete from {QUARANTINE} where source = ?", [source.name])
        todo = files
    else:
        todo = [p for p in files if hashes[p] not in seen]
    loaded_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    results = [FileLoad(source.name, source.entity, p.name, 0, 0, 0, True) for p in files if p not in todo]
    for path in todo:
        con.execute("create or replace temp table _quarantined_lines (line bigint, column_name varchar, reason varchar, "
                    "customer_id bigint)")
        read, _ = _read_file(con, source, path)
        _map_file(con, source, path)
        if source.entity == "transactions":  # lines become orders and order lines: no key of their own to dedupe on
            loaded, duplicate, conflicting = _write_transactions(con, source, path, loaded_at), 0, 0
        else:
            loaded, duplicate, conflicting = _write_entity(con, source, path, loaded_at, run_id)
        con.execute(f"insert into {QUARANTINE} select ?, ?, ?, line, column_name, reason, ?, ?, customer_id "
                    "from _quarantined_lines",
                    [source.name, source.entity, path.name, loaded_at, run_id])
        (quarantined,) = con.execute("select count(distinct line) from _quarantined_lines").fetchone()
        if loaded + duplicate + quarantined != read:
            raise RuntimeError(f"{path}: {read} rows read but {loaded} loaded, {duplicate} duplicate and "
                               f"{quarantined} quarantined")
        # a transaction log's orders are derived per file: staging always deduplicates them (NULL: not checked)
        shared = None if source.entity == "transactions" else keys_in_other_sources(con, source.entity, source.name,
                                                                                      loaded_at)
        con.execute(f"insert into {LEDGER} (source, raw_table, file, sha256, rows, mode, loaded_at, dagster_run_id, "
                    f"entity, rows_read, rows_quarantined, rows_duplicate, rows_conflicting, keys_in_other_sources) "
                    f"values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [source.name, TARGETS[source.entity][0], path.name, hashes[path], loaded, source.mode, loaded_at,
                     run_id, source.entity, read, quarantined, duplicate, conflicting, shared])
        results.append(FileLoad(source.name, source.entity, path.name, read, loaded, quarantined, False, duplicate,
                                conflicting))
    return results


def load_sources(con: duckdb.DuckDBPyConnection, sources: SourcesFile, run_id: str | None = None) -> list[FileLoad]:
    loads: list[FileLoad] = []
    # transactions last: customers and products they refer to are then known, not derived
    for source in sorted(sources.sources, key=lambda s: s.entity == "transactions"):
        loads += load_source(con, sources, source, run_id)
    return loads
