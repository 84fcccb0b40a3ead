"""Contact keys hashed the way ad platforms document it, and every customer of an audience plan counted.

Google Customer Match: an email trimmed and lower-cased, a phone in E.164 (+14155550123), each SHA-256 as
hex. The expected digests are computed here with hashlib from those documented normalised strings.
"""

import hashlib

import pandas as pd
import pytest

from orchestration.lib.audience_keys import hashed_emails, hashed_phones, normalise_email, normalise_phone, sha256_hex
from orchestration.lib.audiences import plan_exports


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_email_is_trimmed_and_lower_cased_before_hashing():
    assert normalise_email(" John.Doe@Example.COM ") == "john.doe@example.com"
    assert sha256_hex(normalise_email(" John.Doe@Example.COM ")) == _sha("john.doe@example.com")
    assert hashed_emails(pd.Series(["\tJOHN.DOE@example.com\n"])).iloc[0] == _sha("john.doe@example.com")


@pytest.mark.parametrize("value", [None, "", "   ", "not an email", "a@b", "two@@example.com", "a b@example.com"])
def test_a_value_that_is_not_an_email_gives_no_key(value):
    assert normalise_email(value) is None
    assert sha256_hex(normalise_email(value)) is None


@pytest.mark.parametrize("value", ["(415) 555-0123", "+1 415 555 0123", "415-555-0123", "415.555.0123",
                                   "14155550123", "+1 (415) 555-0123", "001 415 555 0123", " +14155550123 "])
def test_us_phones_in_any_format_become_the_same_e164_and_digest(value):
    assert normalise_phone(value) == "+14155550123"
    assert hashed_phones(pd.Series([value])).iloc[0] == _sha("+14155550123")


def test_other_countries_use_the_default_code_and_drop_the_trunk_zero():
    assert normalise_phone("07911 123456", default_country_code="44") == "+447911123456"
    assert normalise_phone("+44 7911 123456") == "+447911123456"  # an international number keeps its own code
    assert normalise_phone("030 1234567", default_country_code="49") == "+49301234567"


@pytest.mark.parametrize("value", [None, "", "n/a", "555-0123", "415 555 012", "(015) 555-0123", "+1 415 155 0123",
                                   "+1234", "+1234567890123456"])
def test_numbers_that_cannot_be_e164_give_no_key(value):
    assert normalise_phone(value) is None


def _customers(n: int, segment: str, **columns) -> pd.DataFrame:
    base = {"customer_id": range(n), "source_customer_id": [f"{segment}-{i}" for i in range(n)], "segment_id": segment,
            "segment_name": f"name {segment}", "recommended_channel": "email", "offer_type": "discount",
            "is_holdout": False, "email": [f"c{i}@example.com" for i in range(n)], "phone": "(415) 555-0123",
            "email_consent": True, "sms_consent": True, "ads_consent": True}
    return pd.DataFrame({**base, **columns})


def test_every_customer_is_exported_or_counted_and_small_audiences_are_withheld():
    big = _customers(200, "a", is_holdout=[i < 20 for i in range(200)],
                     email_consent=[None if i % 10 == 1 else True for i in range(200)],
                     phone=["(415) 555-0123" if i % 4 else "555-0123" for i in range(200)])
    small = _customers(50, "b")
    plan = plan_exports(pd.concat([big, small], ignore_index=True), None, min_audience_size=100,
                        default_country_code="1")
    counts = plan.counts.set_index(["segment_id", "audience"])
    email = counts.loc[("a", "email_match")]
    assert (email.holdout, email.no_consent, email.exported) == (20, 18, 162)  # unknown consent = no consent
    phone = counts.loc[("a", "phone_match")]
    assert phone.invalid_key == 45 and phone.exported == 135
    assert counts.loc[("b", "crm"), "withheld"] == 50 and "segment of 50" in counts.loc[("b", "crm"), "withheld_reason"]
    assert not any(stem.startswith("segment_b_") and not stem.endswith("delta") for stem in plan.files)
    parts = plan.counts[["exported", "holdout", "no_consent", "invalid_key", "withheld"]].sum(axis=1)
    assert (parts == plan.counts["segment_size"]).all()
    # first export: everyone exported is new in the delta; holdout customers are in no file
    assert len(plan.files["segment_a_delta"]) == 180
    assert not set(plan.files["segment_a_crm"]["source_customer_id"]) & {f"a-{i}" for i in range(20)}


def test_the_delta_lists_who_entered_and_who_left_since_the_previous_export():
    previous = pd.DataFrame({"segment_id": ["a"] * 3 + ["gone"], "source_customer_id": ["a-1", "a-2", "x", "y"]})
    plan = plan_exports(_customers(120, "a"), previous, min_audience_size=100, default_country_code="1")
    delta = plan.files["segment_a_delta"]
    assert set(delta.loc[delta["change"] == "left", "source_customer_id"]) == {"x"}
    assert len(delta[delta["change"] == "entered"]) == 118
    assert plan.files["segment_gone_delta"]["change"].tolist() == ["left"]


def test_without_any_phone_in_the_data_the_phone_files_are_left_out_and_said_so():
    plan = plan_exports(_customers(150, "a", phone=None), None, min_audience_size=100, default_country_code="1")
    assert "phone_match" not in set(plan.counts["audience"])
    assert any("phone_match files left out" in note for note in plan.notes)
    assert "segment_a_email_match" in plan.files
