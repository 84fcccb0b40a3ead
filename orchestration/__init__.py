"""microseg's orchestration: the Dagster code location (defs/) and the helpers it uses (lib/)."""

from orchestration.lib.warnings import quiet_library_warnings

# before any library import below us raises them
quiet_library_warnings()
