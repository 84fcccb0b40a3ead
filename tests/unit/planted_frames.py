"""Small feature frames with planted groups, for testing ml/ without the warehouse."""

import numpy as np
import pandas as pd

from ml.features import feature_groups

REGIONS = ["northeast", "southeast", "midwest", "southwest", "west"]
# response rates of the touch channels email, sms and push, as a retailer's data names them
CONTACT_RATES = ["email_open_rate", "email_click_rate", "sms_click_rate", "push_open_rate"]
CATEGORIES = [f"share_{c}" for c in ("garden", "kitchen", "toys", "books", "beauty", "tools", "pets", "music",
                                     "sport", "wine")]


def planted_features(n_per_micro: int = 150, n_macro: int = 3, n_micro: int = 2, seed: int = 0) -> pd.DataFrame:
    """Macros differ in what they buy (category shares), micros within a macro in region and channel."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(n_macro):
        for u in range(n_micro):
            n = n_per_micro
            frame = {}
            for spec in feature_groups(CONTACT_RATES).values():
                for column in spec.numeric:
                    frame[column] = rng.normal(0.3, 0.05, n).clip(0, 1)
            shares = np.full((n, 10), 0.02)
            shares[:, m * 3 % 10] = 0.8
            shares += rng.normal(0, 0.02, shares.shape).clip(-0.02, None)
            shares /= shares.sum(1, keepdims=True)
            for i, column in enumerate(CATEGORIES):
                frame[column] = shares[:, i]
            frame["store_order_share"] = np.where(u % 2, 0.8, 0.1) + rng.normal(0, 0.05, n)
            frame["web_order_share"] = 1 - frame["store_order_share"]
            frame["mobile_share"] = rng.normal(0.5, 0.1, n)
            frame["net_revenue"] = rng.lognormal(5 + m * 0.3, 0.4, n)
            frame["region"] = np.where(rng.random(n) < 0.95, REGIONS[u], REGIONS[(u + 2) % 5])
            frame["touch_open_rate"] = frame["email_open_rate"]  # all channels together: no draw of its own
            frame["touch_click_rate"] = (frame["email_click_rate"] + frame["sms_click_rate"]) / 2
            for channel in ("email", "sms", "push"):
                frame[f"{channel}_touches"] = np.full(n, 12)
            frame["macro_truth"] = m
            frame["micro_truth"] = m * 10 + u
            rows.append(pd.DataFrame(frame))
    df = pd.concat(rows, ignore_index=True)
    df["customer_id"] = np.arange(1, len(df) + 1)
    # columns the profiles read that the feature groups do not
    df["gross_revenue"] = df["net_revenue"] * 1.1
    df["order_count"] = rng.integers(1, 10, len(df))
    df["recency_days"] = rng.integers(1, 300, len(df)).astype(float)
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
