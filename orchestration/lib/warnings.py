"""Library warnings a microseg user cannot act on, silenced one by one where they arise.

Each entry names the warning's category and the start of its text, so any other
warning, including a new one from the same library, still shows.
"""

from __future__ import annotations

import warnings

import dagster as dg
from pandas.errors import Pandas4Warning

# (category, message regex): why it is safe to ignore
IGNORED = [
    # code references (the UI's links from an asset to its source file) are documented, and still labelled beta
    (dg.BetaWarning, r"Function `with_source_code_references` is currently in beta"),
    (dg.BetaWarning, r"Class `(LocalFileCodeReference|CodeReferencesMetadataValue)` is currently in beta"),
    # dagster-dbt 0.29 calls its own deprecated context.op; nothing in microseg does
    (DeprecationWarning, r"AssetExecutionContext\.op is deprecated"),
    # dagster-dbt's column lineage pulls in sqlglot's optional Rust tokenizer, which announces its own successor
    (DeprecationWarning, r"sqlglotrs is deprecated"),
    # duckdb 1.5's .df() calls DataFrame.drop(inplace=...) inside the extension; pandas 3 announces its removal
    (Pandas4Warning, r"The inplace keyword in DataFrame\.drop is deprecated"),
    # pyspark 3.5's pandas conversions (createDataFrame, toPandas) call pandas APIs that pandas 3 deprecates
    (Pandas4Warning, r"is_datetime64tz_dtype is deprecated"),
    (Pandas4Warning, r"The copy keyword is deprecated"),
    # pyspark 3.5 checks the pandas version with distutils' LooseVersion
    (DeprecationWarning, r"distutils Version classes are deprecated"),
]


def quiet_library_warnings() -> None:
    for category, message in IGNORED:
        warnings.filterwarnings("ignore", category=category, message=message)
