"""The microseg code location (`dg dev`, `make ui`, workspace.yaml): every folder under defs/ is a domain.

Importing this module opens no warehouse connection and runs no dbt command.
"""

from pathlib import Path

import dagster as dg
from dagster_shared.record import copy

from orchestration.lib.progress import progress_logger


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # the UI links each Python asset to its source file (dbt models link through the translator)
    return dg.Definitions.merge(
        copy(loaded, assets=dg.with_source_code_references(list(loaded.assets or []))),
        dg.Definitions(loggers={"progress": progress_logger}),
    )
