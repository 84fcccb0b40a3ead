"""Contact keys as ad platforms match them: normalised, then SHA-256 as lower-case hex.

Google Customer Match (and Meta's custom audiences) document the same rules: an email trimmed and
lower-cased, a phone in E.164 (``+`` country code and number, digits only), each hashed with SHA-256.
A value that cannot be normalised gives None, so the caller can count it instead of uploading noise.
"""

from __future__ import annotations

import hashlib
import re

import pandas as pd

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_NON_DIGITS = re.compile(r"\D")


def normalise_email(value: object) -> str | None:
    """``" John.Doe@Example.COM "`` -> ``"john.doe@example.com"``; None when it is not an address."""
    if value is None or pd.isna(value):
        return None
    email = str(value).strip().lower()
    return email if _EMAIL.fullmatch(email) else None


def normalise_phone(value: object, default_country_code: str = "1") -> str | None:
    """A phone in E.164 (``"(415) 555-0123"`` -> ``"+14155550123"``), or None when it cannot be one.

    ``+`` or ``00`` starts an international number; anything else is national, in the default country:
    for "1" (the North American plan) 10 digits, or 11 starting with 1; elsewhere one trunk ``0`` is dropped.
    """
    if value is None or pd.isna(value):
        return None
    text = str(value).strip()
    digits = _NON_DIGITS.sub("", text)
    if not digits:
        return None
    if text.startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    elif default_country_code == "1":
        number = "1" + digits if len(digits) == 10 else digits if len(digits) == 11 and digits[0] == "1" else ""
    else:
        number = default_country_code + (digits[1:] if digits.startswith("0") else digits)
    if not 8 <= len(number) <= 15 or number[0] == "0":
        return None
    # North American numbers: 1 + area code and exchange that do not start with 0 or 1
    if number[0] == "1" and (len(number) != 11 or number[1] in "01" or number[4] in "01"):
        return None
    return "+" + number


def sha256_hex(normalised: str | None) -> str | None:
    return None if normalised is None else hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def hashed_emails(values: pd.Series) -> pd.Series:
    return _hashed(values, normalise_email)


def hashed_phones(values: pd.Series, default_country_code: str = "1") -> pd.Series:
    return _hashed(values, lambda v: normalise_phone(v, default_country_code))


def _hashed(values: pd.Series, normalise) -> pd.Series:
    # a loop over a plain list: Series.map over Arrow-backed strings spent most of its time fetching each value
    return pd.Series([sha256_hex(normalise(v)) for v in values.tolist()], index=values.index, dtype=object)
