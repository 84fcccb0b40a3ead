"""Audience exports on the demo, in a warehouse of their own: what a marketer uploads, and what is left out.

Three exports in one Dagster instance: period 0 end to end (full_pipeline, minimum audience 100), period 1
scored by the daily path (score_customers, minimum 50: customers moved segment, so the delta lists them),
then the exports alone with a minimum above half the segments' sizes (those are withheld).
"""

import hashlib
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from orchestration.lib.audience_keys import normalise_phone
from tests.conftest import AS_OF, FAST_SEGMENTATION, load_defs, pipeline_run_config, query

CUSTOMERS = 3_000
PERIOD_1_AS_OF = "2026-09-30"
PARTS = ["exported", "holdout", "no_consent", "invalid_key", "withheld"]
MEMBERS_SQL = """
    select d.source_customer_id, d.segment_id, d.is_holdout, c.email, c.phone, c.email_consent, c.sms_consent,
           c.ads_consent
    from marts.customer_segment_details d join staging.stg_shop__customers c using (customer_id)"""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _folders(exports: Path) -> list[Path]:
    return sorted(p for p in exports.iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def exports(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("audiences")
    warehouse, folder = root / "warehouse.duckdb", root / "exports"
    instance = dg.DagsterInstance.ephemeral()
    seen = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MICROSEG_WAREHOUSE", str(warehouse))
        mp.setenv("MICROSEG_EXPORTS", str(folder))
        mp.setenv("MICROSEG_DEMO", "1")
        mp.delenv("MICROSEG_LANDING", raising=False)
        mp.delenv("MICROSEG_INBOX", raising=False)
        defs = load_defs()

        def run(job: str, run_config: dict):
            result = defs.resolve_job_def(job).execute_in_process(run_config=run_config, instance=instance,
                                                                  raise_on_error=False)
            assert result.success, f"{job} failed"
            return result

        run("full_pipeline", pipeline_run_config(CUSTOMERS, segmentation=FAST_SEGMENTATION))
        seen["members_0"] = query(warehouse, MEMBERS_SQL)
        period_1 = {"ops": {"demo_exports": {"config": {"n_customers": CUSTOMERS, "seed": 42, "reference_date": AS_OF,
                                                        "period": 1}}},
                    "resources": {"analysis": {"config": {"as_of_date": PERIOD_1_AS_OF}}}}
        run("refresh_features", period_1)
        # 50: at 3,000 customers a segment's phone audience (SMS and ads consent, about 27%) is under 100
        scored = run("score_customers", {"resources": period_1["resources"], "ops": {
            "audiences__segment_exports": {"config": {"min_audience_size": 50}}}})
        seen["members_1"] = query(warehouse, MEMBERS_SQL)
        seen["changed"] = query(warehouse, "select count(*) as n from segments.customer_scores where changed_segment")
        sizes = seen["members_1"]["segment_id"].value_counts()
        seen["min_size"] = int(sizes.median()) + 1  # about half the segments fall under it
        from orchestration.defs.audiences.assets import segment_exports

        small = dg.materialize([segment_exports], instance=instance, resources=defs.resources, run_config={
            "ops": {"audiences__segment_exports": {"config": {"min_audience_size": seen["min_size"]}}}})
        assert small.success
        seen["metadata"] = scored.asset_materializations_for_node("audiences__segment_exports")[0].metadata
    return warehouse, folder, seen


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_each_export_is_a_folder_with_manifests_whose_checksums_and_rows_match_the_files(exports):
    warehouse, root, _ = exports
    folders = _folders(root)
    assert len(folders) == 3, folders
    assert not [p for p in root.iterdir() if p.name.startswith(".")], "a partial folder was left behind"
    for folder in folders:
        manifest = _manifest(folder)
        listed = pd.read_csv(folder / "manifest.csv")
        assert sorted(listed["file"]) == sorted(f["file"] for f in manifest["files"])
        assert set(listed["file"]) | {"manifest.json", "manifest.csv"} == {p.name for p in folder.iterdir()}
        for entry in manifest["files"]:
            path = folder / entry["file"]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], path
            frame = pd.read_csv(path, dtype=str) if entry["format"] == "csv" else pd.read_parquet(path)
            assert len(frame) == entry["rows"], path
    logged = query(warehouse, "select export_id, folder from audiences.exports order by created_at")
    assert [Path(f).name for f in logged["folder"]] == [f.name for f in folders]


def test_counts_reconcile_with_every_segments_size(exports):
    warehouse, root, seen = exports
    counts = query(warehouse, "select * from audiences.export_counts")
    assert counts.groupby("export_id").ngroups == 3
    assert (counts[PARTS].sum(axis=1) == counts["segment_size"]).all()
    first, second, third = (_manifest(f) for f in _folders(root))
    for manifest, members in ((first, seen["members_0"]), (second, seen["members_1"]), (third, seen["members_1"])):
        rows = pd.DataFrame(manifest["counts"])
        sizes = members["segment_id"].value_counts().to_dict()
        for audience in ("crm", "email_match", "phone_match"):
            mine = rows[rows["audience"] == audience].set_index("segment_id")["segment_size"].to_dict()
            assert mine == sizes, audience  # every segment, every customer
    # the metadata shows the same reconciliation
    assert "no_consent" in seen["metadata"]["reconciliation"].value


def test_holdout_and_non_consenting_customers_are_in_no_file(exports):
    _, root, seen = exports
    folder = _folders(root)[1]
    m = seen["members_1"]
    out = m[m["is_holdout"]]
    no_any = m[~(m["email_consent"] | m["sms_consent"] | m["ads_consent"])]
    crm = pd.concat([pd.read_csv(p, dtype=str) for p in folder.glob("*_crm.csv")])
    assert len(crm) > 0
    assert not set(crm["source_customer_id"]) & set(out["source_customer_id"])
    assert not set(crm["source_customer_id"]) & set(no_any["source_customer_id"])
    # each email file is exactly its segment's reachable, consenting customers' hashed emails
    manifest = pd.DataFrame(_manifest(folder)["files"])
    email_files = manifest[(manifest["audience"] == "email_match") & (manifest["format"] == "parquet")]
    assert len(email_files) > 0
    for entry in email_files.itertuples():
        want = m[(m["segment_id"] == entry.segment_id) & ~m["is_holdout"] & m["email_consent"] & m["ads_consent"]
                 & m["email"].notna()]
        got = pd.read_parquet(folder / entry.file)["Email"]
        assert sorted(got) == sorted(want["email"].str.strip().str.lower().map(_sha))
    phones = set(pd.concat([pd.read_csv(p, dtype=str) for p in folder.glob("*_phone_match.csv")])["Phone"])
    barred = m[m["is_holdout"] | ~m["sms_consent"] | ~m["ads_consent"]]["phone"].map(normalise_phone).dropna()
    assert phones and not phones & set(barred.map(_sha))
    assert all(len(h) == 64 for h in phones)


def test_a_segment_under_the_minimum_audience_size_is_withheld_entirely(exports):
    warehouse, root, seen = exports
    folder = _folders(root)[2]
    counts = pd.DataFrame(_manifest(folder)["counts"])
    small = counts[counts["segment_size"] < seen["min_size"]]
    assert len(small) > 0
    assert (small["exported"] == 0).all() and small["withheld_reason"].str.startswith("segment of").all()
    assert (small["withheld"] > 0).any()
    for segment_id in small["segment_id"].unique():
        audiences = {f["audience"] for f in _manifest(folder)["files"] if f["segment_id"] == segment_id}
        assert audiences <= {"delta"}, segment_id  # only who left: nothing about the customers themselves
    assert not query(warehouse, "select * from audiences.export_members where segment_id in "
                                f"({', '.join(repr(s) for s in small['segment_id'].unique())})").shape[0]


def test_the_second_export_lists_the_movers_in_its_delta(exports):
    _, root, seen = exports
    first, second = _folders(root)[:2]

    def crm(folder):
        return {(r.segment_id, r.source_customer_id) for p in folder.glob("*_crm.csv")
                for r in pd.read_csv(p, dtype=str).itertuples()}

    before, after = crm(first), crm(second)
    delta = pd.concat([pd.read_csv(p, dtype=str) for p in second.glob("*_delta.csv")])
    entered = set(zip(delta.loc[delta["change"] == "entered", "segment_id"],
                      delta.loc[delta["change"] == "entered", "source_customer_id"]))
    left = set(zip(delta.loc[delta["change"] == "left", "segment_id"],
                   delta.loc[delta["change"] == "left", "source_customer_id"]))
    assert entered == after - before and left == before - after
    assert seen["changed"]["n"].iloc[0] > 0 and len(entered) > 0 and len(left) > 0
    # a customer who moved segment is listed leaving the old one and entering the new one
    movers = {c for _, c in entered} & {c for _, c in left}
    assert movers
    # the first export had no previous one: its delta lists every exported customer as entered
    first_delta = pd.concat([pd.read_csv(p, dtype=str) for p in first.glob("*_delta.csv")])
    assert set(first_delta["change"]) == {"entered"} and len(first_delta) == len(before)


def test_contacts_stay_out_of_the_marts_and_segments(exports):
    warehouse, _, _ = exports
    leaked = query(warehouse, "select table_schema, table_name, column_name from information_schema.columns "
                              "where table_schema in ('marts', 'segments', 'audiences') "
                              "and column_name in ('email', 'phone', 'first_name', 'last_name')")
    assert leaked.empty, leaked
    staged = query(warehouse, "select count(phone) * 1.0 / count(*) as phones, avg(sms_consent::int) as sms "
                              "from staging.stg_shop__customers")
    assert staged["phones"].iloc[0] > 0.8 and 0.3 < staged["sms"].iloc[0] < 0.6
