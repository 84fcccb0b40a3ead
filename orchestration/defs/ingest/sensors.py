"""The near-real-time path: files dropped into the inbox are appended and scored, once each."""

import json

import dagster as dg

from orchestration.defs.automation import jobs
from orchestration.lib.dbt import raw_tables
from orchestration.lib.files import READERS, sha256_of, table_for_file
from orchestration.lib.loading import source_for_file
from orchestration.lib.settings import inbox_path, sources_file
from orchestration.lib.sources import load_sources_file


@dg.sensor(
    job=jobs.ingest_and_score,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Watches $MICROSEG_INBOX (default inbox/ beside the warehouse) for CSV/Parquet exports named "
                "<table>[_anything]; launches ingest_and_score once per new or changed file.",
)
def inbox_sensor(context: dg.SensorEvaluationContext):
    inbox = inbox_path()
    if not inbox.is_dir():
        return dg.SkipReason(f"Inbox {inbox} does not exist; create it and drop files there.")
    # cursor: file name -> "size:mtime" of the version already handled (launched or reported as bad)
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    tables = list(raw_tables())
    sources = load_sources_file(sources_file()) if sources_file() else None
    requests, bad = [], []
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        version = f"{stat.st_size}:{int(stat.st_mtime_ns)}"
        if seen.get(path.name) == version:
            continue
        seen[path.name] = version
        source = source_for_file(sources, path) if sources else None
        table = source.entity if source else table_for_file(path, tables)
        if table is None:
            bad.append(path.name)
            context.log.warning(f"Inbox file {path.name} skipped: not {'/'.join(READERS)} named after a raw table, "
                                "and no source of the sources file names it.")
            continue
        requests.append(dg.RunRequest(
            # by content: a fixed file (new content, same name) runs again; the same bytes touched again do not
            run_key=f"{path.name}:{sha256_of(path)}",
            run_config={"ops": {"raw_exports": {"config": {"files": [str(path)], "source": "inbox"}}}},
            # the sources file, when set, comes from the environment: the run maps the file with it
            tags={"microseg/inbox_file": path.name, "microseg/raw_table": table},
        ))
    context.update_cursor(json.dumps(seen, sort_keys=True))
    if requests:
        return requests
    return dg.SkipReason(f"No new files in {inbox}" + (f"; skipped unrecognised {bad}" if bad else "."))
