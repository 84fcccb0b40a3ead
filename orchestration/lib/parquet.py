"""Tables written to Parquet chunk by chunk, one file per table, published whole.

Each file is written aside as ``.<table>.parquet.partial`` (a name no loader picks up) and renamed
into place only when every chunk has been written; on any error the partial files are deleted and
the previous files stay as they were. Memory holds one chunk, never a whole table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def _plain_type(t: pa.DataType) -> pa.DataType:
    # Text is plain strings in every chunk: a chunk's categoricals arrive as dictionaries, pandas' strings
    # as large strings, and a column with no value in a small chunk as nulls; one file holds one type.
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_large_string(t) or pa.types.is_null(t):
        return pa.string()
    return t


def _arrow(df: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(df, preserve_index=False)
    schema = pa.schema([pa.field(f.name, _plain_type(f.type)) for f in table.schema])
    return table.cast(schema)


class ParquetTables:
    """``with ParquetTables(folder) as out: out.append({"orders": df, ...})`` for every chunk; on leaving
    the block without error, ``folder/<table>.parquet`` holds every chunk's rows of that table."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.rows: dict[str, int] = {}
        self._writers: dict[str, pq.ParquetWriter] = {}

    def _partial(self, table: str) -> Path:
        return self.folder / f".{table}.parquet.partial"

    def append(self, tables: Mapping[str, pd.DataFrame]) -> None:
        for name, df in tables.items():
            data = _arrow(df)
            writer = self._writers.get(name)
            if writer is None:
                # dictionary pages for text only: ids and amounts rarely repeat, and trying costs a third of the time
                text = [f.name for f in data.schema if pa.types.is_string(f.type)]
                writer = self._writers[name] = pq.ParquetWriter(self._partial(name), data.schema, use_dictionary=text)
                self.rows[name] = 0
            else:
                try:
                    data = data.select(writer.schema.names).cast(writer.schema)
                except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ValueError(f"{name}: a chunk's columns {data.schema.names} do not fit the file's "
                                     f"{writer.schema}: {exc}") from exc
            writer.write_table(data)
            self.rows[name] += data.num_rows

    def __enter__(self) -> "ParquetTables":
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for writer in self._writers.values():
            writer.close()
        for name in self._writers:
            if exc_type is None:
                self._partial(name).replace(self.folder / f"{name}.parquet")
            else:
                self._partial(name).unlink(missing_ok=True)
