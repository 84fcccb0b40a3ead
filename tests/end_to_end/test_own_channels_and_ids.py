"""A retailer whose ids are text (K-00017, 001150) and whose marketing goes out by WhatsApp, newsletter
and post: features per touch channel of its own, the recommendation among them, its ids in the tables
it queries, and every customer either with features or excluded with a reason."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tests.conftest import query, run_on_sources

LAST_DAY = dt.date(2025, 6, 30)
TEST_ACCOUNT = "K-00003"
ONLY_BAD_LINES = "K-99999"  # in no customers export; its one purchase cannot be read

SOURCES = """
sources:
  - name: crm
    entity: customers
    path: kunden.csv
    columns: {customer_id: kunde, first_name: vorname}
  - name: kasse
    entity: transactions
    path: bons.csv
    columns: {customer_id: kunde, ordered_at: tag, amount: summe}
  - name: kampagnen
    entity: marketing_touches
    path: kontakte.csv
    columns: {touch_id: id, customer_id: kunde, channel: kanal, sent_at: gesendet, opened: geoeffnet,
              clicked: geklickt}
"""


def _ids(n: int) -> list[str]:
    # most ids are text; the last 50 are digits with leading zeros, which must survive too
    return [f"K-{i:05d}" if i < n - 50 else f"{i:06d}" for i in range(n)]


def _exports(root, seed: int = 5) -> dict[str, object]:
    """800 one-time buyers who open the newsletter, 400 monthly buyers who click on WhatsApp; everyone
    also gets letters by post, whose response nobody records."""
    rng = np.random.default_rng(seed)
    ids = _ids(1200)
    loyal = set(ids[800:])
    start = np.datetime64(LAST_DAY - dt.timedelta(days=729))
    bons, kontakte = [], []
    for customer in ids:
        days = (np.sort(rng.choice(730, rng.integers(18, 26), replace=False)) if customer in loyal
                else rng.integers(0, 730, 1))
        bons += [(customer, str(start + np.timedelta64(int(d), "D")), round(float(rng.lognormal(3.5, 0.3)), 2))
                 for d in days]
        rates = {"WhatsApp": (0.9, 0.5), "Newsletter": (0.2, 0.02), "Post": (0.0, 0.0)} if customer in loyal else \
                {"WhatsApp": (0.3, 0.03), "Newsletter": (0.7, 0.3), "Post": (0.0, 0.0)}
        for channel, (open_rate, click_rate) in rates.items():
            for _ in range(12):
                opened = rng.random() < open_rate
                kontakte.append((len(kontakte) + 1, customer, channel, f"2025-{rng.integers(1, 7):02d}-15 10:00",
                                 opened, opened and rng.random() < click_rate / max(open_rate, 1e-9)))
    bons.append((ids[0], str(np.datetime64(LAST_DAY)), 9.5))  # the log's last day
    bons.append((ONLY_BAD_LINES, "2025-03-01", "zwölf"))
    pd.DataFrame({"kunde": ids, "vorname": ["TEST" if c == TEST_ACCOUNT else "Kim" for c in ids]}
                 ).to_csv(root / "kunden.csv", index=False)
    pd.DataFrame(bons, columns=["kunde", "tag", "summe"]).to_csv(root / "bons.csv", index=False)
    touches = pd.DataFrame(kontakte, columns=["id", "kunde", "kanal", "gesendet", "geoeffnet", "geklickt"])
    touches.to_csv(root / "kontakte.csv", index=False)
    (root / "sources.yml").write_text(SOURCES)
    return {"ids": ids, "loyal": loyal, "touches": touches}


@pytest.fixture(scope="module")
def run(tmp_path_factory, dbt_manifest):
    root = tmp_path_factory.mktemp("channels")
    exports = _exports(root)
    result = run_on_sources(root)
    assert result.success
    return root / "warehouse.duckdb", exports


def test_touch_channels_of_the_data_get_features_and_the_recommendation(run):
    warehouse, exports = run
    wide = query(warehouse, "select * from marts.customer_features_wide")
    for channel in ("whatsapp", "newsletter", "post"):
        assert {f"{channel}_touches", f"{channel}_open_rate", f"{channel}_click_rate"} <= set(wide.columns)
    assert not [c for c in wide.columns if c.startswith(("email_", "sms_", "push_"))]
    # one customer's WhatsApp click rate, straight from the file
    touches = exports["touches"]
    mine = touches[(touches["kunde"] == "K-00900") & (touches["kanal"] == "WhatsApp")]
    key = query(warehouse, "select id from raw._id_keys where source_value = 'K-00900'")["id"].item()
    row = wide.set_index("customer_id").loc[key]
    assert row["whatsapp_touches"] == 12 and row["whatsapp_click_rate"] == pytest.approx(mine["geklickt"].mean())

    fitted = set(query(warehouse, "select distinct source_column from segments.model_scaling")["source_column"])
    assert {"whatsapp_click_rate", "newsletter_open_rate"} <= fitted

    profiles = query(warehouse, "select * from segments.segment_profiles")
    assert profiles["recommended_channel"].notna().all()
    assert set(profiles["recommended_channel"]) <= {"whatsapp", "newsletter"}  # never email, never silent post
    assert profiles["description"].str.contains(r"response to post \(no opens or clicks recorded\)").all()
    assert not profiles["description"].str.contains("email", case=False).any()
    # the loyal WhatsApp clickers' segment is told WhatsApp, the one-time newsletter readers' the newsletter
    members = query(warehouse, "select d.source_customer_id, p.recommended_channel from marts.customer_segment_details d "
                               "join segments.segment_profiles p using (segment_id)")
    by_kind = members.assign(loyal=members["source_customer_id"].isin(exports["loyal"]))
    assert by_kind.groupby("loyal")["recommended_channel"].agg(lambda s: s.mode()[0]).to_dict() == {
        True: "whatsapp", False: "newsletter"}


def test_segment_details_show_the_ids_as_they_are_in_the_files(run):
    warehouse, exports = run
    details = query(warehouse, "select customer_id, source_customer_id from marts.customer_segment_details")
    assert details["source_customer_id"].is_unique
    assert set(details["source_customer_id"]) == set(exports["ids"]) - {TEST_ACCOUNT}
    # digits keep their integer as the key, and their leading zeros where users see them
    assert details.set_index("source_customer_id").loc["001150", "customer_id"] == 1150


def test_every_customer_has_features_or_an_exclusion_with_its_reason(run):
    warehouse, exports = run
    excluded = query(warehouse, "select source_customer_id, reason from marts.customer_exclusions order by 1")
    assert excluded.values.tolist() == [[TEST_ACCOUNT, "test or internal account"],
                                        [ONLY_BAD_LINES, "every line quarantined at load (raw._quarantine)"]]
    (features,) = query(warehouse, "select count(*) from marts.customer_features").iloc[0]
    in_files = set(exports["ids"]) | {ONLY_BAD_LINES}
    assert features + len(excluded) == len(in_files)
    segmented = query(warehouse, "select customer_id from segments.customer_segments")["customer_id"]
    featured = query(warehouse, "select customer_id from marts.customer_features")["customer_id"]
    assert set(segmented) == set(featured)
