"""Users' export files into the ``raw`` tables, with DuckDB's own readers and a load ledger.

Two ways in, one loader:
- full exports in the landing folder, one folder per source (``<landing>/<source>/<table>.csv``):
  each load *replaces that source's rows* of the table, never another source's;
- incremental files (the inbox, or files named in the launchpad): *appended*.

Every raw row carries where it came from (``_source``, ``_file``, ``_loaded_at``) and every
load is a row of ``raw._loads`` with the file's content hash, so a file already loaded is not
loaded again and a user's rows are never replaced by another source's export (the demo is just
the source called "demo").
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import duckdb
import numpy as np
import pandas as pd

from ml.scoring_sql import quote_identifier, sql_string
from orchestration.lib.contract import RAW_TABLES, Column
from orchestration.lib.warehouse import column_names

READERS = {".csv": "read_csv", ".parquet": "read_parquet"}
PROVENANCE_COLUMNS = {"_source": "varchar", "_file": "varchar", "_loaded_at": "timestamp"}
LEDGER = "raw._loads"
APPEND, REPLACE = "append", "replace"


@dataclass(frozen=True)
class LoadedFile:
    source: str
    table: str
    file: str
    sha256: str
    rows: int  # loaded
    mode: str
    skipped: bool  # already loaded with the same content
    rows_read: int = 0  # = rows + rows_duplicate + rows_quarantined
    rows_duplicate: int = 0  # a row with its key and values is already loaded (or is a newer line's older version)
    rows_quarantined: int = 0  # in raw._quarantine with line, column and reason
    rows_conflicting: int = 0  # keys loaded before with other values: this file's version won (raw._conflicts)
    ignored_columns: tuple[str, ...] = ()  # in the file, not in the contract: not loaded, said so


def table_for_file(path: Path, tables: Iterable[str]) -> str | None:
    """The raw table a file feeds, from its name (``orders_2026-11-22.csv`` -> orders); None when none matches."""
    suffix = path.suffix.lower()
    if suffix not in READERS:
        return None
    name = path.name.lower()
    # longest name first, so order_items_*.csv is not taken for orders
    for table in sorted(tables, key=len, reverse=True):
        if name == f"{table}{suffix}" or name.startswith(f"{table}_") or name.startswith(f"{table}."):
            return table
    return None


def landing_sources(landing: Path) -> dict[str, list[Path]]:
    """Each folder under the landing folder is a source; its export files, sorted by name."""
    if not landing.is_dir():
        return {}
    return {
        folder.name: sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in READERS)
        for folder in sorted(landing.iterdir()) if folder.is_dir() and not folder.name.startswith(".")
    }


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_file(con: duckdb.DuckDBPyConnection, table: str, path: Path, sha: str, source: str, mode: str,
               loaded_at: dt.datetime, run_id: str | None) -> LoadedFile:
    """One file through the load area into raw.<table>: valid rows in, the rest quarantined, each key once."""
    ensure_raw_table(con, table)
    con.execute("create or replace temp table _bad_lines (line bigint, column_name varchar, reason varchar)")
    read, as_text = _stage(con, path)
    columns, ignored = _validate(con, path, table, as_text)
    con.execute("insert into _bad_lines select _line, _column, _reason from _mapped where _reason is not null")
    customer = "try_cast(m.customer_id as bigint)" if "customer_id" in columns else "null"
    con.execute(f"""insert into {QUARANTINE} by name
        select ? as source, ? as entity, ? as file, b.line, b.column_name, b.reason, ? as loaded_at,
               ? as dagster_run_id, {customer} as customer_id
        from _bad_lines b left join (select _line, * exclude (_line) from _mapped) m on b.line = m._line""",
                [source, table, path.name, loaded_at, run_id])
    (quarantined,) = con.execute("select count(distinct line) from _bad_lines").fetchone()
    loaded, duplicate, conflicting = insert_each_key_once(con, table, columns, [source, path.name, loaded_at, run_id])
    if loaded + duplicate + quarantined != read:  # nothing may go missing between the file and raw
        raise RuntimeError(f"{path}: {read} rows read but {loaded} loaded, {duplicate} duplicate and "
                           f"{quarantined} quarantined")
    shared = keys_in_other_sources(con, table, source, loaded_at)
    con.execute(f"""insert into {LEDGER} (source, raw_table, file, sha256, rows, mode, loaded_at, dagster_run_id,
        entity, rows_read, rows_quarantined, rows_duplicate, rows_conflicting, keys_in_other_sources)
        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [source, table, path.name, sha, loaded, mode, loaded_at, run_id, table, read, quarantined, duplicate,
                 conflicting, shared])
    return LoadedFile(source, table, path.name, sha, loaded, mode, False, read, duplicate, quarantined, conflicting,
                      tuple(ignored))


LEDGER_COLUMNS = {"source": "varchar", "raw_table": "varchar", "file": "varchar", "sha256": "varchar",
                  "rows": "bigint", "mode": "varchar", "loaded_at": "timestamp", "dagster_run_id": "varchar",
                  "entity": "varchar", "rows_read": "bigint", "rows_quarantined": "bigint",
                  "rows_duplicate": "bigint", "rows_conflicting": "bigint",
                  # keys of this load that another source's rows also hold (NULL: not checked, as before this
                  # column); staging reads raw without deduplicating while no load shares a key (lib/staging_builds.py)
                  "keys_in_other_sources": "bigint"}
QUARANTINE = "raw._quarantine"
QUARANTINE_COLUMNS = {"source": "varchar", "entity": "varchar", "file": "varchar", "line": "bigint",
                      "column_name": "varchar", "reason": "varchar", "loaded_at": "timestamp",
                      "dagster_run_id": "varchar", "customer_id": "bigint"}
# a key loaded before with other values: the newer export won; what it replaced, for the user to check
CONFLICTS = "raw._conflicts"
CONFLICT_COLUMNS = {"raw_table": "varchar", "key": "varchar", "source": "varchar", "file": "varchar", "line": "bigint",
                    "replaced_file": "varchar", "replaced_line": "bigint", "changed_columns": "varchar",
                    "replaced_values": "varchar", "new_values": "varchar", "loaded_at": "timestamp",
                    "dagster_run_id": "varchar",
                    # when the replaced row was loaded (NULL: an older line of the same file): staging's
                    # incremental build reconciles raw's removed rows with these (lib/staging_builds.py)
                    "replaced_loaded_at": "timestamp"}
DELIMITERS = ",;\t|"


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, str]) -> None:
    con.execute(f"create table if not exists {table} ({', '.join(f'{quote_identifier(c)} {t}' for c, t in columns.items())})")
    schema, name = table.split(".")
    existing = column_names(con, schema, name)
    for column, sql_type in columns.items():
        if column not in existing:
            con.execute(f"alter table {table} add column {quote_identifier(column)} {sql_type}")


def _ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    """raw._loads (one row per file: read = loaded + duplicate + quarantined), raw._quarantine, raw._conflicts."""
    con.execute("create schema if not exists raw")
    _create(con, LEDGER, LEDGER_COLUMNS)
    _create(con, QUARANTINE, QUARANTINE_COLUMNS)
    _create(con, CONFLICTS, CONFLICT_COLUMNS)


def ensure_raw_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """raw.<table> with the contract's columns and types (and provenance), even before any file feeds it."""
    con.execute("create schema if not exists raw")
    _create(con, f"raw.{table}", {**{c.name: c.sql_type for c in RAW_TABLES[table].columns}, **PROVENANCE_COLUMNS})


def _already_loaded(con: duckdb.DuckDBPyConnection, source: str, table: str, sha: str) -> bool:
    return bool(con.execute(f"select count(*) from {LEDGER} where source = ? and raw_table = ? and sha256 = ?",
                            [source, table, sha]).fetchone()[0])


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ? "
        "order by ordinal_position", [table]).fetchall()]


def _delimiter(path: Path) -> str:
    """The header line's most frequent separator: DuckDB's sniffer gives up on a file with ragged rows."""
    with path.open("rb") as f:
        header = f.readline().decode("utf-8", errors="replace")
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def accepted_lines(n: int, first: int, rejected: list[int]) -> np.ndarray:
    """File line of each of ``n`` accepted rows, in order, stepping over the ``rejected`` lines."""
    lines = np.arange(n, dtype=np.int64) + first
    skipped = np.asarray(sorted(rejected), dtype=np.int64)
    for _ in range(len(skipped) + 1):
        moved = np.arange(n, dtype=np.int64) + first + np.searchsorted(skipped, lines, side="right")
        if np.array_equal(moved, lines):
            break
        lines = moved
    return lines


def number_lines(con: duckdb.DuckDBPyConnection, read: str, view: str, n: int, first: int,
                 rejected: list[int]) -> None:
    """Temp view ``view``: the ``n`` rows of temp table ``read`` (in file order) with ``_line``, their line in the
    file, counted from ``first`` and stepping over the ``rejected`` lines."""
    if not rejected:  # the usual case: no frame of every row's line (16 bytes a row: 750 MB for 47M rows)
        con.execute(f"create or replace temp view {view} as "
                    f"select *, row_number() over (order by rowid) - 1 + {first} as _line from {read}")
        return
    con.register("_file_lines", pd.DataFrame({"_k": np.arange(n, dtype=np.int64),
                                              "_line": accepted_lines(n, first, rejected)}))
    con.execute(f"create or replace temp table {view}_lined as select f.* exclude (_k), l._line from "
                f"(select *, row_number() over (order by rowid) - 1 as _k from {read}) as f "
                "join _file_lines as l on f._k = l._k")
    con.unregister("_file_lines")
    con.execute(f"create or replace temp view {view} as select * from {view}_lined")


def _stage(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, bool]:
    """The file into the load area: temp relation _staged (its columns and _line); (rows read, read as text).

    CSV is read as text with DuckDB's rejects table: a line the reader refuses (ragged, not UTF-8) is
    quarantined in _bad_lines with its line and column, not a failure of the whole file.
    """
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty (no header, no rows)")
    if path.suffix.lower() == ".parquet":
        try:
            con.execute(f"create or replace temp view _staged as select * exclude (file_row_number), "
                        f"file_row_number + 1 as _line from read_parquet({sql_string(str(path))}, file_row_number=true)")
            (n,) = con.execute("select count(*) from _staged").fetchone()
        except duckdb.Error as exc:
            raise ValueError(f"{path}: not a readable Parquet file (corrupt or truncated?): "
                             f"{str(exc).splitlines()[0]}") from exc
        return n, False
    con.execute("drop table if exists _rejects; drop table if exists _rejects_scan")
    try:
        con.execute(f"create or replace temp table _read as select * from read_csv({sql_string(str(path))}, "
                    f"delim={sql_string(_delimiter(path))}, header=true, all_varchar=true, store_rejects=true, "
                    "rejects_table='_rejects', rejects_scan='_rejects_scan')")
    except duckdb.Error as exc:
        raise ValueError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from exc
    (n,) = con.execute("select count(*) from _read").fetchone()
    con.execute(r"""insert into _bad_lines
        select line, coalesce(column_name, 'column ' || column_idx || ' (beyond the header)'),
               case error_type when 'INVALID ENCODING' then 'not UTF-8 text (a latin-1 export? save it as UTF-8, '
                                                            || 'or map it in a sources file with csv: encoding)'
                    else lower(error_type) || ': ' || error_message end
        from (select *, row_number() over (partition by line order by column_idx) as k from _rejects) where k = 1""")
    rejected = [r[0] for r in con.execute("select distinct line from _rejects order by line").fetchall()]
    number_lines(con, "_read", "_staged", n, 2, rejected)  # line 2 is the first after the header
    return n + len(rejected), True


def _typed(column: str, sql_type: str, as_text: bool) -> tuple[str, str]:
    """(the value as written, the value as its type: NULL when it does not read as one)."""
    if not as_text:
        return quote_identifier(column), f"try_cast({quote_identifier(column)} as {sql_type})"
    text = f"nullif(trim({quote_identifier(column)}), '')"
    if sql_type == "BOOLEAN":
        return text, (f"case when lower({text}) in ('1', 'true', 't', 'yes', 'y') then true "
                      f"when lower({text}) in ('0', 'false', 'f', 'no', 'n') then false end")
    return text, f"try_cast({text} as {sql_type})"


def value_checks(column: str, sql_type: str, written: str, typed: str,
                 rule: Column | None) -> list[tuple[str, str, str]]:
    """(column, condition, reason) for one column's values, in the order they are judged: the contract's rules,
    the one home of them for every load (sources files and by-table files alike)."""
    shown = f"replace(cast({written} as varchar), chr(0), '\\0')"
    checks = []
    if rule and rule.required:
        checks.append((column, f"{written} is null", "'missing'"))
    checks.append((column, f"{written} is not null and {typed} is null",
                   f"'cannot read \"' || {shown} || '\" as {sql_type}'"))
    if sql_type == "DOUBLE":
        checks.append((column, f"not isfinite({typed})", f"'not a finite number: ' || {shown}"))
    if rule and rule.not_negative:
        checks.append((column, f"{typed} < 0", f"'negative, which cannot be right: ' || {shown}"))
    if rule and rule.max_abs is not None:
        checks.append((column, f"abs({typed}) > {rule.max_abs}",
                       f"'beyond ±{rule.max_abs:,.0f}, which cannot be right: ' || {shown}"))
    return checks


def why_untrusted(checks: list[tuple[str, str, str]]) -> str:
    """The select-list columns _column and _reason: the first failed check's column and reason (NULL: trusted)."""
    if not checks:
        return "cast(null as varchar) as _column, cast(null as varchar) as _reason"
    column_case = "case " + " ".join(f"when {c} then {sql_string(n)}" for n, c, _ in checks) + " end"
    reason_case = "case " + " ".join(f"when {c} then {sql_string(n + ': ')} || {r}" for n, c, r in checks) + " end"
    return f"{column_case} as _column, {reason_case} as _reason"


def _validate(con: duckdb.DuckDBPyConnection, path: Path, table: str, as_text: bool) -> tuple[list[str], list[str]]:
    """_staged -> view _mapped: raw.<table>'s columns typed, and why a row cannot be trusted (_column, _reason)."""
    file_columns = [r[0] for r in con.execute("describe _staged").fetchall() if r[0] != "_line"]
    target = dict(con.execute("select column_name, data_type from information_schema.columns where table_schema = "
                              "'raw' and table_name = ? order by ordinal_position", [table]).fetchall())
    target = {c: t for c, t in target.items() if c not in PROVENANCE_COLUMNS}
    rules = {c.name: c for c in RAW_TABLES[table].columns}
    absent_ok = {c.name for c in rules.values() if c.may_be_absent}
    missing = [c for c in target if c not in file_columns and c not in absent_ok]
    if missing:
        extra = [c for c in file_columns if c not in target]
        hint = ""
        if len(file_columns) == 1 and any(d in file_columns[0] for d in DELIMITERS):
            hint = f"; the header reads as one column {file_columns[0]!r}: is the delimiter one of , ; tab |?"
        elif extra:
            hint = f"; it has columns raw.{table} does not know, {extra}: renamed?"
        raise ValueError(f"{path}: missing columns {missing} required by raw.{table} (file has {file_columns}){hint}")
    selected, checks = [], []
    for column, sql_type in target.items():
        if column not in file_columns:
            selected.append(f"cast(null as {sql_type}) as {quote_identifier(column)}")
            continue
        written, typed = _typed(column, sql_type, as_text)
        selected.append(f"{typed} as {quote_identifier(column)}")
        checks += value_checks(column, sql_type, written, typed, rules.get(column))
    con.execute(f"create or replace temp view _mapped as select _line, {', '.join(selected)}, "
                f"{why_untrusted(checks)} from _staged")
    return list(target), [c for c in file_columns if c not in target]


def insert_each_key_once(con: duckdb.DuckDBPyConnection, table: str, columns: list[str],
                       params: list) -> tuple[int, int, int]:
    """Insert _mapped's valid rows into raw.<table>, each key once; (loaded, duplicate, conflicting).

    A row whose key this source already loaded with the same values is a duplicate and never re-enters raw;
    with other values, the newest export wins (later file, later line) and the replaced row goes to
    raw._conflicts. Keys are the source's own: another source's rows are never replaced here (no load
    overwrites a user's data), and staging picks the newest of several sources' rows. Only the rows whose
    key repeats are looked at closely: anti-joins on the key, in SQL.
    """
    key = quote_identifier(RAW_TABLES[table].key)
    cols = ", ".join(quote_identifier(c) for c in columns)
    content = "cast(struct_pack(" + ", ".join(f"{quote_identifier(c)} := {quote_identifier(c)}" for c in columns) + ") as varchar)"
    con.execute(f"create or replace temp table _repeat as select {key} as k from _mapped where _reason is null "
                f"group by all having count(*) > 1")
    (has_raw,) = con.execute(f"select count(*) > 0 from (select 1 from raw.{table} where _source = ? limit 1)",
                             params[:1]).fetchone()
    con.execute(f"create or replace temp table _in_raw as select distinct r.{key} as k from raw.{table} r "
                f"semi join (select {key} from _mapped where _reason is null) m on r.{key} = m.{key} "
                f"where r._source = {sql_string(params[0])}" if has_raw else
                "create or replace temp table _in_raw as select cast(null as bigint) as k where false")
    con.execute(f"""create or replace temp table _clash as
        select {cols}, _line, {content} as _content,
               row_number() over (partition by {key} order by _line desc) = 1 as _newest
        from _mapped where _reason is null and {key} in (select k from _repeat union select k from _in_raw)""")
    # the versions each clashing key had before: older lines of this file, and the row already in raw
    con.execute(f"""create or replace temp table _previous as
        select {cols}, _line, _content, ? as _file, cast(null as timestamp) as _loaded_at from _clash where not _newest
        union all
        select {cols}, null as _line, {content} as _content, _file, _loaded_at from raw.{table}
        where {key} in (select k from _in_raw) and _source = ?""", [params[1], params[0]])
    changed = " || ".join(f"case when n.{quote_identifier(c)} is distinct from p.{quote_identifier(c)} then {sql_string(c + ' ')} else '' end"
                          for c in columns)
    # one row per key whose newest version differs from one before it (raw's first, else the latest line)
    (conflicting,) = con.execute(f"""insert into {CONFLICTS} by name
        select {sql_string(table)} as raw_table, cast(n.{key} as varchar) as key, ? as source, ? as file, n._line as line,
               p._file as replaced_file, p._line as replaced_line, trim({changed}) as changed_columns,
               p._content as replaced_values, n._content as new_values, ? as loaded_at, ? as dagster_run_id,
               p._loaded_at as replaced_loaded_at
        from _clash n join _previous p on n.{key} = p.{key}
        where n._newest and n._content <> p._content
        qualify row_number() over (partition by n.{key} order by p._line desc nulls first) = 1""",
                                 [params[0], params[1], params[2], params[3]]).fetchone()
    # raw rows the newest version replaces go; a key already in raw with the same values is not loaded again
    con.execute(f"""create or replace temp table _same_in_raw as select n.{key} as k from _clash n
        join (select {key}, {content} as _content from raw.{table} where {key} in (select k from _in_raw)
              and _source = ?) r
          on n.{key} = r.{key} and n._content = r._content where n._newest""", params[:1])
    con.execute(f"delete from raw.{table} where {key} in (select k from _in_raw) "
                f"and {key} not in (select k from _same_in_raw) and _source = ?", params[:1])
    tag = "? as _source, ? as _file, ? as _loaded_at"
    (clean,) = con.execute(f"""insert into raw.{table} by name select {cols}, {tag} from _mapped
        where _reason is null and {key} not in (select k from _repeat union select k from _in_raw)""",
                           params[:3]).fetchone()
    (newest,) = con.execute(f"""insert into raw.{table} by name select {cols}, {tag} from _clash
        where _newest and {key} not in (select k from _same_in_raw)""", params[:3]).fetchone()
    (valid,) = con.execute("select count(*) from _mapped where _reason is null").fetchone()
    return clean + newest, valid - clean - newest, conflicting


def keys_in_other_sources(con: duckdb.DuckDBPyConnection, table: str, source: str, loaded_at: dt.datetime) -> int:
    """How many keys this load (``source``'s rows loaded at ``loaded_at``) wrote that another source's rows of
    raw.<table> also hold. Checked at every load, against the rows there then, so that no two sources sharing a
    key goes unseen, without ever counting the distinct keys of a whole table."""
    key = quote_identifier(RAW_TABLES[table].key)
    (others,) = con.execute(f"select count(*) from (select 1 from raw.{table} where _source <> ? limit 1)",
                            [source]).fetchone()
    if not others:  # the usual case: one source
        return 0
    (shared,) = con.execute(f"""select count(*) from (select distinct {key} from raw.{table} where _source <> ?) as o
        join (select distinct {key} from raw.{table} where _source = ? and _loaded_at = ?) as n using ({key})""",
                            [source, source, loaded_at]).fetchone()
    return shared


def load_files(con: duckdb.DuckDBPyConnection, files: list[Path], *, source: str, mode: str, tables: Iterable[str],
               run_id: str | None = None) -> list[LoadedFile]:
    """Load ``files`` from ``source`` into their raw tables, in the caller's transaction.

    ``replace``: the files are the source's full export of each table they match; that source's
    rows are replaced (other sources' rows are untouched). Skipped when every file's content is
    what the last load of that table from that source had. ``append``: each file not loaded
    before (by content hash) is added. Errors name the file and what is wrong with it.
    """
    if mode not in (APPEND, REPLACE):
        raise ValueError(f"load mode must be {APPEND!r} or {REPLACE!r}, not {mode!r}")
    tables = list(tables)
    by_table: dict[str, list[Path]] = {}
    for path in files:
        table = table_for_file(path, tables)
        if table is None:
            raise ValueError(f"{path}: no raw table matches this file name; name it <table>[_anything].csv|parquet "
                             f"with <table> one of {', '.join(sorted(tables))}")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file not found")
        by_table.setdefault(table, []).append(path)

    _ensure_ledger(con)
    loaded_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    results: list[LoadedFile] = []
    for table, paths in by_table.items():
        hashes = {p: sha256_of(p) for p in paths}
        if mode == REPLACE:
            last = con.execute(
                f"select list(sha256 order by sha256) from {LEDGER} where source = ? and raw_table = ? and mode = ? "
                f"and loaded_at = (select max(loaded_at) from {LEDGER} where source = ? and raw_table = ?)",
                [source, table, REPLACE, source, table]).fetchone()[0]
            if last and sorted(last) == sorted(hashes.values()) and _columns(con, table):
                results += [LoadedFile(source, table, p.name, h, 0, mode, True) for p, h in hashes.items()]
                continue
            if "_source" in _columns(con, table):
                (others,) = con.execute(f"select count(*) from raw.{table} where _source is distinct from ?",
                                        [source]).fetchone()
                # only this source's rows: drop and re-create (cheaper than deleting millions of rows)
                con.execute(f"drop table raw.{table}" if others == 0 else
                            f"delete from raw.{table} where _source = {sql_string(source)}")
                con.execute(f"delete from {QUARANTINE} where source = ? and entity = ?", [source, table])
            todo = paths
        else:
            todo = [p for p in paths if not _already_loaded(con, source, table, hashes[p])]
            results += [LoadedFile(source, table, p.name, hashes[p], 0, mode, True) for p in paths if p not in todo]
        for path in todo:
            results.append(_load_file(con, table, path, hashes[path], source, mode, loaded_at, run_id))
    return results
