"""The sources file: which of a retailer's files feed which entity of the contract, and how to read them.

```yaml
sources:
  - name: shop                      # recorded on every row it loads (_source)
    entity: transactions            # transactions | customers | products | web_events | marketing_touches
    path: exports/purchases_*.csv   # a file or a glob, relative to this file
    format: csv                     # csv | parquet | jsonl (default: from the file suffix)
    csv: {delimiter: ";", decimal: ",", date_format: "%d.%m.%Y", encoding: utf-8}
    columns: {customer_id: Kundennr, ordered_at: Datum, amount: Betrag}   # contract column: file column
    constants: {channel: store}     # for columns the files lack
    mode: full                      # full: replaces this source's rows; incremental: appends new files
```

Every problem is reported with the file, the source and the field, so a user can fix it
without reading code.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestration.lib.contract import ENTITIES, columns_of

FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "jsonl"}


class CsvOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delimiter: str = Field(default=",", description="Field separator, e.g. ';' or '\\t'.")
    decimal: Literal[".", ","] = Field(default=".", description="Decimal mark of numbers.")
    date_format: str | None = Field(default=None, description="strptime format of dates, e.g. '%d/%m/%Y'.")
    timestamp_format: str | None = Field(default=None, description="strptime format of timestamps.")
    encoding: Literal["utf-8", "latin-1", "utf-16"] = Field(default="utf-8", description="Text encoding.")
    header: bool = Field(default=True, description="First line holds the column names.")


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    entity: Literal["transactions", "customers", "products", "web_events", "marketing_touches"]
    path: str
    format: Literal["csv", "parquet", "jsonl"] | None = None
    csv: CsvOptions = CsvOptions()
    columns: dict[str, str] = {}
    constants: dict[str, Any] = {}
    mode: Literal["full", "incremental"] = "full"

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", value):
            raise ValueError(f"{value!r} is not a source name: use letters, digits and _ (starting with a letter)")
        return value

    @model_validator(mode="after")
    def _columns_are_in_the_contract(self) -> "Source":
        known = columns_of(self.entity)
        for field in ("columns", "constants"):
            unknown = sorted(set(getattr(self, field)) - set(known))
            if unknown:
                raise ValueError(f"{field} names {unknown}, which {self.entity} does not have; "
                                 f"its columns are {sorted(known)}")
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise ValueError(f"{both} are given both as a column and as a constant; keep one")
        return self

    def file_column(self, column: str) -> str:
        """The file's name for a contract column (the same name unless mapped)."""
        return self.columns.get(column, column)

    def resolved_format(self, path: Path) -> str:
        fmt = self.format or FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"{path}: cannot tell the format from the suffix; set format: csv|parquet|jsonl "
                             f"on source {self.name!r}")
        return fmt


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[Source]
    path: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _names_unique(self) -> "SourcesFile":
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        if not any(s.entity == "transactions" for s in self.sources):
            raise ValueError("no source feeds transactions: microseg needs at least one transaction export")
        return self

    def files_of(self, source: Source) -> list[Path]:
        """The files a source's path or glob matches, relative to the sources file, sorted by name."""
        pattern = Path(source.path).expanduser()
        pattern = pattern if pattern.is_absolute() else self.path.parent / pattern
        return sorted(Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file())


def _where(loc: tuple, raw: dict) -> str:
    parts = []
    for item in loc:
        if isinstance(item, int) and parts == ["sources"]:
            name = (raw.get("sources") or [{}])[item].get("name") if isinstance(raw.get("sources"), list) \
                and item < len(raw["sources"]) and isinstance(raw["sources"][item], dict) else None
            parts[-1] = f"sources[{item}]" + (f" ({name})" if name else "")
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def load_sources_file(path: Path) -> SourcesFile:
    """Read and validate a sources file; errors name the file, the source and the field."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sources file {path} not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with a 'sources' list")
    try:
        sources = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        problems = [f"  {_where(e['loc'], raw)}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()]
        raise ValueError(f"{path}: {len(problems)} problem(s) in the sources file:\n" + "\n".join(problems)) from None
    sources.path = path.resolve()
    return sources


def contract_markdown() -> str:
    """The contract as a markdown table per entity (the README's input contract is this)."""
    lines = []
    for entity, columns in ENTITIES.items():
        lines += [f"**{entity}**", "", "| column | type | required | meaning | unlocks |", "|---|---|---|---|---|"]
        lines += [f"| `{c.name}` | {c.sql_type} | {'yes' if c.required else ''} | {c.meaning} | {c.unlocks} |"
                  for c in columns]
        lines.append("")
    return "\n".join(lines)
