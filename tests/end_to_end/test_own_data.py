"""A retailer's own exports, from a sources file to segments: a bare four-column purchase log with its own
column names, ';' as delimiter, decimal commas and day-first dates, whose history ended a year ago."""

import datetime as dt
import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from tests.conftest import load_defs, query, run_on_sources

LAST_DAY = dt.date(2025, 6, 30)  # the export ends more than a year before today
BAD_LINES = [";01.02.2025;1;3,00", "17;31.02.2025;1;3,00", "18;01.03.2025;1"]


def _purchase_log(seed: int = 3) -> tuple[pd.DataFrame, dict[str, set[int]]]:
    """600 one-time buyers, 300 loyal monthly buyers, 300 big spenders who stopped a year before the end."""
    rng = np.random.default_rng(seed)
    start = np.datetime64(LAST_DAY - dt.timedelta(days=729))
    rows, kinds = [], {"one_time": set(), "loyal": set(), "lapsed": set()}
    for i in range(1200):
        customer = 5000 + i
        if i < 600:
            kind, days = "one_time", rng.integers(0, 730, 1)
            spend = rng.lognormal(3.3, 0.4, 1)
        elif i < 900:
            kind, days = "loyal", np.sort(rng.choice(730, rng.integers(14, 24), replace=False))
            spend = rng.lognormal(3.8, 0.3, len(days))
        else:
            kind, days = "lapsed", np.sort(rng.choice(330, rng.integers(4, 9), replace=False))
            spend = rng.lognormal(5.0, 0.3, len(days))
        kinds[kind].add(customer)
        for d, amount in zip(days, spend):
            rows.append((customer, start + np.timedelta64(int(d), "D"), int(rng.integers(1, 4)), round(float(amount), 2)))
    rows.append((6999, np.datetime64(LAST_DAY), 1, 12.5))  # the log's last day
    df = pd.DataFrame(rows, columns=["Kundennr", "Datum", "Menge", "Betrag"])
    return df, kinds


def _write_csv(df: pd.DataFrame, path) -> None:
    text = df.assign(Datum=pd.to_datetime(df["Datum"]).dt.strftime("%d.%m.%Y"),
                     Betrag=df["Betrag"].map(lambda v: f"{v:.2f}".replace(".", ",")))
    lines = [";".join(text.columns)] + [";".join(map(str, r)) for r in text.itertuples(index=False)]
    lines[5:5] = BAD_LINES  # bad rows in the middle of the file: lines 6, 7 and 8
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


SOURCES = """
sources:
  - name: kasse
    entity: transactions
    path: export/kaeufe_*.csv
    csv: {delimiter: ";", decimal: ",", date_format: "%d.%m.%Y"}
    columns: {customer_id: Kundennr, ordered_at: Datum, quantity: Menge, amount: Betrag}
"""


@pytest.fixture(scope="module")
def own_log_run(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("own")
    (root / "export").mkdir()
    log, kinds = _purchase_log()
    _write_csv(log, root / "export" / "kaeufe_2025.csv")
    (root / "sources.yml").write_text(SOURCES)
    result = run_on_sources(root)
    return root / "warehouse.duckdb", result, log, kinds


def test_every_row_read_is_loaded_or_quarantined_with_file_line_and_column(own_log_run):
    warehouse, result, log, _ = own_log_run
    assert result.success
    (load,) = query(warehouse, "select * from raw._loads").itertuples()
    assert load.rows_read == len(log) + len(BAD_LINES)
    assert load.rows_read == load.rows + load.rows_quarantined and load.rows_quarantined == 3
    bad = query(warehouse, "select file, line, column_name, reason from raw._quarantine order by line")
    assert bad["file"].eq("kaeufe_2025.csv").all()
    assert bad["line"].tolist() == [6, 7, 8]  # header is line 1, the bad rows follow four good ones
    assert bad["column_name"].tolist()[:2] == ["customer_id", "ordered_at"]
    assert bad["reason"].tolist()[:2] == ["customer_id: missing", 'ordered_at: cannot read "31.02.2025" as TIMESTAMP']


def test_features_are_as_of_the_last_transaction_and_everyone_is_segmented(own_log_run):
    warehouse, _, log, _ = own_log_run
    features = query(warehouse, "select * from marts.customer_features")
    assert features["as_of_date"].astype(str).eq(LAST_DAY.isoformat()).all()
    assert len(features) == log["Kundennr"].nunique()  # every customer in the log, none dropped
    assert features["order_count"].sum() == len(log)
    segmented = query(warehouse, "select count(distinct customer_id) as n from segments.customer_segments")
    assert segmented["n"].item() == len(features)
    left_out = json.loads(query(warehouse, "select features_left_out from segments.segmentation_runs").iloc[0, 0])
    assert left_out["age_years"] == "no data"  # what the log lacks is recorded, not clustered
    assert left_out["touch_conversion_rate"] == "the same for every customer"


def test_segment_names_say_only_what_the_log_supports(own_log_run):
    warehouse, _, _, kinds = own_log_run
    profiles = query(warehouse, "select * from segments.segment_profiles")
    names = " | ".join(profiles["segment_name"])
    assert "unknown" not in names.lower() and "online" not in names and "books" not in names
    assert profiles["recommended_channel"].isna().all()  # no engagement data: no channel recommended
    assert profiles["conversion_rate"].isna().all() and profiles["open_rate"].isna().all()
    assert (profiles["repeat_rate_target"] <= 1).all()
    assert profiles["description"].str.contains("The data cannot tell").all()
    micro = profiles[profiles["level"] == "micro"]
    assert not np.allclose(micro["budget_share"], micro["share_of_revenue"])
    members = query(warehouse, "select s.customer_id, p.segment_name from segments.customer_segments s "
                               "join segments.segment_profiles p using (segment_id)")
    one_time = members[members["segment_name"].str.contains("one-time", case=False)]
    assert len(set(one_time["customer_id"]) & kinds["one_time"]) >= 0.8 * len(kinds["one_time"])
    assert len(set(one_time["customer_id"]) & kinds["loyal"]) <= 0.05 * len(kinds["loyal"])
    lapsed = members[members["segment_name"].str.contains("lapsed", case=False)]
    assert len(set(lapsed["customer_id"]) & kinds["lapsed"]) >= 0.8 * len(kinds["lapsed"])


def test_a_file_dropped_in_the_inbox_is_mapped_by_its_source_and_scored(own_log_run, tmp_path, monkeypatch):
    import shutil

    from orchestration.defs.ingest.sensors import inbox_sensor

    warehouse, _, _, _ = own_log_run
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    (tmp_path / "inbox").mkdir()
    monkeypatch.setenv("MICROSEG_WAREHOUSE", str(copy))
    monkeypatch.setenv("MICROSEG_DEMO", "0")
    monkeypatch.setenv("MICROSEG_SOURCES", str(warehouse.parent / "sources.yml"))
    monkeypatch.setenv("MICROSEG_INBOX", str(tmp_path / "inbox"))
    (tmp_path / "inbox" / "kaeufe_2025-07.csv").write_text(
        "Kundennr;Datum;Menge;Betrag\n9001;01.06.2025;1;15,00\n9001;20.06.2025;2;30,50\n9002;bad;1;1,00\n")
    context = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral())
    (request,) = list(inbox_sensor(context))
    assert request.tags["microseg/raw_table"] == "transactions"
    result = load_defs().resolve_job_def("ingest_and_score").execute_in_process(
        run_config=request.run_config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    load = query(copy, "select rows_read, rows, rows_quarantined from raw._loads where file = 'kaeufe_2025-07.csv'")
    assert load.iloc[0].tolist() == [3, 2, 1]
    scored = query(copy, "select * from segments.customer_scores where customer_id = 9001")
    assert len(scored) == 1 and scored["is_new_customer"].item()
