"""Stable segment ids across refits.

A refit numbers its segments afresh (M1 is simply the largest). Before anything is
published, each new segment is matched to the previous result's segments by customer
overlap: an optimal one-to-one matching on Jaccard overlap (Hungarian algorithm), level
by level. A strong match keeps the old id; every other new segment gets an id never
issued before, so a retired id is never reused. Every overlap worth mentioning is kept
as a lineage row, which is how splits and merges show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

KEEP_ID_FROM = 0.5  # Jaccard overlap at or above which a new segment keeps its predecessor's id
# ... unless this share of the shared customers no longer fit the old segment (they were scored beyond its
# 95th percentile distance): the same customers with new behaviour are a redefined segment, with a new id
REDEFINED_FROM = 0.5
LINEAGE_FROM = 0.1  # a flow of at least this share of the old or the new segment is a lineage row


@dataclass(frozen=True)
class IdMatch:
    mapping: dict[str, str]  # fitted id (M1, M1.2) -> stable id
    lineage: pd.DataFrame  # level, previous_segment_id, segment_id, customers, jaccard, share_of_previous,
    #                        share_of_new, far_share, event (kept, redefined, split, merged, new, retired, flow)

    def kept_share(self) -> float:
        """Share of this run's segments that kept an id from the previous run."""
        kept = set(self.lineage.loc[self.lineage["event"] == "kept", "segment_id"])
        return len(kept) / len(self.mapping) if self.mapping else 0.0


def _overlaps(previous: pd.Series, current: pd.Series, far: pd.Series) -> pd.DataFrame:
    """Per (previous, current) segment pair: shared customers, both sizes, Jaccard and the share of the
    shared customers who no longer fit the previous segment."""
    both = pd.DataFrame({"previous": previous, "current": current, "far": far}).dropna(subset=["previous", "current"])
    if both.empty:  # a first run: nothing to match
        return pd.DataFrame({"previous": pd.Series(dtype=object), "current": pd.Series(dtype=object),
                             **{c: pd.Series(dtype=float) for c in ("customers", "previous_size", "current_size",
                                                                    "jaccard", "far_share")}})
    inter = both.groupby(["previous", "current"]).agg(customers=("far", "size"),
                                                      far_share=("far", "mean")).reset_index()
    inter["previous_size"] = inter["previous"].map(previous.value_counts())
    inter["current_size"] = inter["current"].map(current.value_counts())
    inter["jaccard"] = inter["customers"] / (inter["previous_size"] + inter["current_size"] - inter["customers"])
    return inter


def _hungarian(overlaps: pd.DataFrame) -> list[tuple[str, str, float]]:
    """The one-to-one matching of previous to current segments that maximises total Jaccard."""
    if overlaps.empty:
        return []
    grid = overlaps.pivot_table(index="previous", columns="current", values="jaccard", fill_value=0.0)
    from scipy.optimize import linear_sum_assignment  # here, not at import: most step processes never match ids

    rows, cols = linear_sum_assignment(-grid.to_numpy())
    return [(grid.index[r], grid.columns[c], float(grid.iat[r, c])) for r, c in zip(rows, cols)]


def match_segment_ids(previous: pd.DataFrame | None, current: pd.DataFrame, issued: set[str] | frozenset = frozenset(),
                      far: pd.Series | None = None, keep_from: float = KEEP_ID_FROM) -> IdMatch:
    """Stable ids for ``current`` (customer_id, macro_segment_id, segment_id as fitted) given ``previous``
    (the same columns with stable ids, or None for a first run), every id ``issued`` so far, and ``far``
    (by customer_id: True where the latest scoring under the previous model found the customer no longer
    fitting their segment: moved to another, or beyond its 95th percentile distance).

    The customers in frames; ``match_from_overlaps`` does the same from the overlaps the warehouse counts."""
    cur = current.set_index("customer_id")
    prev = (previous.set_index("customer_id") if previous is not None
            else pd.DataFrame({"macro_segment_id": None, "segment_id": None}, index=cur.index, dtype=object))
    far = (far.reindex(cur.index).fillna(False) if far is not None
           else pd.Series(False, index=cur.index)).astype(float)
    levels = {}
    for level, column in LEVELS.items():
        levels[level] = LevelOverlaps(overlaps=_overlaps(prev[column].reindex(cur.index), cur[column], far),
                                      previous_ids=set(prev[column].dropna()), current_ids=list(cur[column].unique()))
    return match_from_overlaps(levels, issued | (set() if previous is None else
                                                 set(previous["macro_segment_id"]) | set(previous["segment_id"])),
                               keep_from)


LEVELS = {"macro": "macro_segment_id", "micro": "segment_id"}


@dataclass(frozen=True)
class LevelOverlaps:
    """One level's input to the matching: ``overlaps`` as ``_overlaps`` makes them (previous, current,
    customers, far_share, previous_size, current_size, jaccard), the previous result's ids and this fit's."""
    overlaps: pd.DataFrame
    previous_ids: set[str]
    current_ids: list[str]


def overlaps_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """``_overlaps``'s frame from the warehouse's counts (``ml.segmentation_sql.overlaps_sql``: previous,
    current, customers, far_customers, previous_size, current_size) for one level."""
    out = counts[["previous", "current"]].astype(object).copy()
    for column in ("customers", "previous_size", "current_size"):
        out[column] = counts[column].astype("int64")
    out["far_share"] = counts["far_customers"].astype(float) / out["customers"]
    out["jaccard"] = out["customers"] / (out["previous_size"] + out["current_size"] - out["customers"])
    return out.sort_values(["previous", "current"], ignore_index=True)


def match_from_overlaps(levels: dict[str, LevelOverlaps], issued: set[str] | frozenset = frozenset(),
                        keep_from: float = KEEP_ID_FROM) -> IdMatch:
    """Stable ids level by level (macro first: a micro id stays under its macro's), from each level's overlaps;
    ``issued`` holds every id ever given out, so none is reused."""
    issued = set(issued)
    mapping: dict[str, str] = {}
    lineage = []

    def next_id(prefix: str) -> str:
        pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
        used = [int(m.group(1)) for s in issued if (m := pattern.match(s))]
        new = f"{prefix}{max(used, default=0) + 1}"
        issued.add(new)
        return new

    for level in LEVELS:
        overlaps, current_ids = levels[level].overlaps, levels[level].current_ids
        fits = overlaps.assign(jaccard=overlaps["jaccard"].where(overlaps["far_share"] < REDEFINED_FROM, 0.0))
        kept = {c: p for p, c, j in _hungarian(fits) if j >= keep_from}
        for fitted in sorted(current_ids, key=lambda s: [int(x) for x in re.findall(r"\d+", s)]):
            old = kept.get(fitted)
            if level == "micro":
                parent = mapping[fitted.split(".")[0]]
                # an id stays with its macro segment: a micro that moved to another macro is a new segment
                mapping[fitted] = old if old is not None and old.split(".")[0] == parent else next_id(f"{parent}.")
            else:
                mapping[fitted] = old if old is not None else next_id("M")
        overlaps = overlaps.assign(level=level, current=overlaps["current"].map(mapping))
        flows = overlaps[(overlaps["customers"] >= LINEAGE_FROM * overlaps["previous_size"])
                         | (overlaps["customers"] >= LINEAGE_FROM * overlaps["current_size"])]
        lineage.append(_events(flows, levels[level].previous_ids, set(mapping[f] for f in current_ids), level))
    return IdMatch(mapping=mapping, lineage=pd.concat(lineage, ignore_index=True))


def _events(flows: pd.DataFrame, previous_ids: set[str], current_ids: set[str], level: str) -> pd.DataFrame:
    """Lineage rows with what happened: kept (same id), redefined (mostly the same customers, who no longer
    fit it), split (one old into several new), merged (several old into one new), flow (a notable share
    moved), new (no predecessor), retired (no successor)."""
    rows = flows.rename(columns={"previous": "previous_segment_id", "current": "segment_id"}).assign(
        share_of_previous=lambda d: d["customers"] / d["previous_size"],
        share_of_new=lambda d: d["customers"] / d["current_size"])
    splits = rows.groupby("previous_segment_id")["segment_id"].transform("nunique") > 1
    merges = rows.groupby("segment_id")["previous_segment_id"].transform("nunique") > 1
    redefined = (rows["jaccard"] >= KEEP_ID_FROM) & (rows["far_share"] >= REDEFINED_FROM)
    rows["event"] = np.select([rows["previous_segment_id"] == rows["segment_id"], redefined, splits, merges],
                              ["kept", "redefined", "split", "merged"], "flow")
    new = sorted(current_ids - set(rows["segment_id"]))  # no lineage row: no predecessor
    retired = sorted(previous_ids - current_ids)
    extra = [{"previous_segment_id": None, "segment_id": s, "event": "new"} for s in new]
    extra += [{"previous_segment_id": s, "segment_id": None, "event": "retired"} for s in retired]
    columns = ["level", "previous_segment_id", "segment_id", "event", "customers", "jaccard", "share_of_previous",
               "share_of_new", "far_share"]
    out = pd.concat([rows, pd.DataFrame(extra, columns=["previous_segment_id", "segment_id", "event"])],
                    ignore_index=True).assign(level=level)
    return out[columns]
