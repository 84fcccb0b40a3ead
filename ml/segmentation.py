"""Two-level segmentation: a few macro segments, many small micro segments nested in each.

Fitting uses a bounded sample (``sample_size``), so its memory does not grow with
the customer count; every customer is then assigned to the nearest centroid, which
is plain arithmetic that can also run as SQL. The number of segments at each level
is chosen from the data: each candidate k gets a silhouette (on a sample), a
Calinski-Harabasz score (k-means) or BIC (Gaussian mixture), and a bootstrap
stability; all scores are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ml.features import FeatureScaler, fit_scaler

# Macro segments are about what people buy and how they engage, so preferences lead and
# geography stays out; inside a macro every group counts the same, geography included.
DEFAULT_MACRO_WEIGHTS = {"preferences": 2.0, "behaviour": 1.0, "engagement": 1.0, "channels": 0.5,
                         "demographics": 0.5, "geography": 0.0}
DEFAULT_MICRO_WEIGHTS = {"preferences": 1.0, "behaviour": 1.0, "engagement": 1.0, "channels": 1.0,
                         "demographics": 1.0, "geography": 1.0}
UNSTABLE_BELOW = 0.6  # Hennig: a cluster with mean bootstrap Jaccard under 0.6 is not stable
# A refit starts from the previous segments (their members' means as k-means' initial centroids, plus new
# centres for any k above their number) and keeps to those starts unless a cold fit scores better by more
# than this: segments change when the data say so.
CONTINUITY_MARGIN = 0.1
# k-means++ starts per fit: 4 for a candidate or final fit, 2 per bootstrap resample. On the 20k demo this
# keeps the quality figures (ARI 0.939 / 0.882, 6 / 24 segments) at 47 s of CPU instead of 124 s with 8 each.
FIT_INITS = 4
BOOTSTRAP_INITS = 2


@dataclass(frozen=True)
class SegmentationConfig:
    macro_k_min: int = 4
    macro_k_max: int = 8
    micro_k_min: int = 2
    micro_k_max: int = 6
    algorithm: str = "kmeans"  # or "gmm"
    min_segment_share: float = 0.005  # of all customers
    min_segment_size: int = 25  # absolute floor
    seed: int = 42
    sample_size: int = 20_000  # fit on at most this many customers per level
    # choose k on at most this many of the level's sample: a candidate costs five fits (one and its bootstrap
    # refits), the chosen k is then fitted and its stability measured on the whole sample
    selection_sample: int = 3_000
    silhouette_sample: int = 4_000
    bootstrap_rounds: int = 3
    macro_weights: dict = field(default_factory=lambda: dict(DEFAULT_MACRO_WEIGHTS))
    micro_weights: dict = field(default_factory=lambda: dict(DEFAULT_MICRO_WEIGHTS))

    def __post_init__(self):
        if self.algorithm not in ("kmeans", "gmm"):
            raise ValueError(f"algorithm must be 'kmeans' or 'gmm', not {self.algorithm!r}")
        for level in ("macro", "micro"):
            lo, hi = getattr(self, f"{level}_k_min"), getattr(self, f"{level}_k_max")
            if not 1 <= lo <= hi:
                raise ValueError(f"{level} k bounds must satisfy 1 <= min <= max, got {lo}..{hi}")

    def min_size(self, n_customers: int) -> int:
        return max(self.min_segment_size, int(np.ceil(self.min_segment_share * n_customers)))


@dataclass
class LevelModel:
    """One fitted clustering: its scaler, centroids (in scaled space) and chosen k's scores."""

    scaler: FeatureScaler
    centroids: np.ndarray
    candidates: pd.DataFrame
    stability: np.ndarray  # per centroid: mean bootstrap Jaccard


@dataclass
class SegmentationResult:
    assignments: pd.DataFrame  # customer_id, macro_segment_id, segment_id, distance, probability
    macro: LevelModel
    micro: dict[str, LevelModel]  # by macro segment id
    macro_ids: list[str]
    micro_ids: dict[str, list[str]]

    def stability(self) -> pd.Series:
        values = {sid: s for sid, s in zip(self.macro_ids, self.macro.stability)}
        for parent, model in self.micro.items():
            values.update({sid: s for sid, s in zip(self.micro_ids[parent], model.stability)})
        return pd.Series(values, name="stability")

    def relabel(self, mapping: dict[str, str]) -> "SegmentationResult":
        """The same result under other segment ids (e.g. stable ids from ``ml.segment_ids``)."""
        return SegmentationResult(
            assignments=self.assignments.assign(macro_segment_id=self.assignments["macro_segment_id"].map(mapping),
                                                segment_id=self.assignments["segment_id"].map(mapping)),
            macro=self.macro,
            micro={mapping[p]: m for p, m in self.micro.items()},
            macro_ids=[mapping[s] for s in self.macro_ids],
            micro_ids={mapping[p]: [mapping[s] for s in ids] for p, ids in self.micro_ids.items()},
        )

    def candidates(self) -> pd.DataFrame:
        frames = [self.macro.candidates.assign(level="macro", parent_segment_id=None)]
        frames += [m.candidates.assign(level="micro", parent_segment_id=p) for p, m in self.micro.items()]
        return pd.concat(frames, ignore_index=True)


def _sample_index(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=size, replace=False)) if n > size else np.arange(n)


def _fit(X: np.ndarray, k: int, algorithm: str, seed: int, init: np.ndarray | None = None, n_init: int = FIT_INITS):
    """One clustering with k groups; ``init`` (k x features) starts it from given centroids."""
    # scikit-learn is imported where it is used: every Dagster step process loads this module, and only the
    # segmentation step fits (the import costs some 2 s of CPU per process)
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture

    if algorithm == "gmm":
        if init is not None:
            return GaussianMixture(k, covariance_type="diag", means_init=init, random_state=seed, reg_covar=1e-4).fit(X)
        return GaussianMixture(k, covariance_type="diag", n_init=min(n_init, 2), random_state=seed,
                               reg_covar=1e-4).fit(X)
    if init is not None:
        return KMeans(k, init=init, n_init=1, random_state=seed).fit(X)
    return KMeans(k, n_init=n_init, random_state=seed).fit(X)


def _warm_start(X: np.ndarray, prior: np.ndarray | None, min_members: int) -> np.ndarray | None:
    """The previous segments' centres in this fit's space: the mean of each one's members in the sample
    (segments with fewer than ``min_members`` there, and customers new since, are left out)."""
    if prior is None:
        return None
    known = pd.Series(prior).notna().to_numpy()
    labels = pd.Series(prior[known]).astype(str)
    counts = labels.value_counts()
    groups = sorted(counts[counts >= max(min_members, 2)].index)
    if len(groups) < 1:
        return None
    Xk = X[known]
    return np.vstack([Xk[(labels == g).to_numpy()].mean(0) for g in groups])


def _centroids(model) -> np.ndarray:
    return model.means_ if hasattr(model, "means_") else model.cluster_centers_  # a mixture, else k-means


def nearest_centroid(X: np.ndarray, centroids: np.ndarray, chunk: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Index of, and Euclidean distance to, the nearest centroid; chunked to bound memory."""
    labels = np.empty(len(X), dtype=np.int64)
    dist = np.empty(len(X), dtype=np.float64)
    c2 = (centroids ** 2).sum(1)
    for start in range(0, len(X), chunk):
        x = X[start:start + chunk]
        d2 = np.maximum((x ** 2).sum(1)[:, None] - 2 * x @ centroids.T + c2[None, :], 0.0)
        labels[start:start + chunk] = d2.argmin(1)
        dist[start:start + chunk] = np.sqrt(d2.min(1))
    return labels, dist


def _bootstrap_jaccard(X: np.ndarray, labels: np.ndarray, k: int, config: SegmentationConfig,
                       rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Hennig's clusterboot: per cluster, mean best Jaccard with clusters refitted on resamples."""
    from sklearn.metrics import adjusted_rand_score

    jaccards = np.zeros((config.bootstrap_rounds, k))
    aris = []
    for b in range(config.bootstrap_rounds):
        idx = rng.choice(len(X), size=len(X), replace=True)
        boot = _fit(X[idx], k, config.algorithm, config.seed + 1 + b, n_init=BOOTSTRAP_INITS)
        boot_labels, _ = nearest_centroid(X, _centroids(boot))
        in_boot = np.zeros(len(X), dtype=bool)
        in_boot[idx] = True
        orig, new = labels[in_boot], boot_labels[in_boot]
        aris.append(adjusted_rand_score(labels, boot_labels))
        for c in range(k):
            a = orig == c
            if not a.any():
                continue
            inter = np.array([(a & (new == j)).sum() for j in range(k)])
            union = np.array([(a | (new == j)).sum() for j in range(k)])
            jaccards[b, c] = (inter / np.maximum(union, 1)).max()
    return jaccards.mean(0), float(np.mean(aris))


def _warm_init(X: np.ndarray, warm: np.ndarray | None, k: int, seed: int) -> np.ndarray | None:
    """Initial centroids for k from the previous centres: all of them, plus k-means++ draws for any extra
    (a new niche gets a centre of its own). None when there are more previous centres than k."""
    if warm is None or k < len(warm):
        return None
    rng = np.random.default_rng(seed)
    centres = list(warm)
    while len(centres) < k:
        d2 = ((X[:, None, :] - np.asarray(centres)[None, :, :]) ** 2).sum(-1).min(1)
        centres.append(X[rng.choice(len(X), p=d2 / d2.sum())] if d2.sum() > 0 else X[rng.integers(len(X))])
    return np.asarray(centres)


def choose_k(X: np.ndarray, k_min: int, k_max: int, config: SegmentationConfig,
             rng: np.random.Generator, warm: np.ndarray | None = None) -> tuple[int, pd.DataFrame, np.ndarray | None]:
    """Score every k in bounds; pick the best mean of rank-normalised silhouette, CH/BIC and stability.

    With ``warm`` (the previous segments' centres), every k from their number up is fitted from them; their
    number is kept unless a cold k scores better by more than CONTINUITY_MARGIN, else the fewest extra. Returns the
    chosen k, every candidate's scores and the chosen k's initial centroids (None: a cold start)."""
    from sklearn.metrics import calinski_harabasz_score, silhouette_score

    k_max = min(k_max, len(X) - 1)
    rows = []
    sil_idx = _sample_index(len(X), config.silhouette_sample, rng)
    for k in range(k_min, k_max + 1):
        if k == 1:
            rows.append(dict(k=1, silhouette=np.nan, calinski_harabasz=np.nan, bic=np.nan, stability_ari=1.0))
            continue
        init = _warm_init(X, warm, k, config.seed)
        model = _fit(X, k, config.algorithm, config.seed, init=init)
        labels, _ = nearest_centroid(X, _centroids(model))
        if len(np.unique(labels)) < 2:
            continue
        _, stability = _bootstrap_jaccard(X, labels, k, config, rng)
        rows.append(dict(
            k=k,
            silhouette=float(silhouette_score(X[sil_idx], labels[sil_idx])) if len(np.unique(labels[sil_idx])) > 1 else np.nan,
            calinski_harabasz=float(calinski_harabasz_score(X, labels)),
            bic=float(model.bic(X)) if config.algorithm == "gmm" else np.nan,
            stability_ari=stability,
            warm_start=init is not None,
        ))
    scores = pd.DataFrame(rows)
    if (scores["k"] > 1).sum() == 0:
        return int(scores["k"].min()), scores.assign(score=np.nan, chosen=scores["k"] == scores["k"].min()), None

    def norm(s: pd.Series, higher_is_better: bool = True) -> pd.Series:
        s = s if higher_is_better else -s
        spread = s.max() - s.min()
        return (s - s.min()) / spread if spread > 0 else pd.Series(1.0, index=s.index)

    structure = norm(scores["bic"], higher_is_better=False) if config.algorithm == "gmm" else norm(scores["calinski_harabasz"])
    scores["score"] = (norm(scores["silhouette"]).fillna(0) + structure.fillna(0) + scores["stability_ari"]) / 3
    # a k whose solution does not survive resampling is only chosen if nothing else is stable
    eligible = scores[scores["stability_ari"] >= UNSTABLE_BELOW]
    best = (eligible if len(eligible) else scores).sort_values(["score", "k"], ascending=[False, True]).iloc[0]
    # continuity: the previous number of segments if it is within the margin of the best, else the fewest
    # extra segments within it (one more, for a new niche), else the best cold fit
    near = scores[(scores["score"] >= best["score"] - CONTINUITY_MARGIN)
                  & ((scores["stability_ari"] >= UNSTABLE_BELOW) | (not len(eligible)))
                  & scores["warm_start"].fillna(False).astype(bool)]
    if len(near):
        same = near[near["k"] == (len(warm) if warm is not None else -1)]
        best = (same if len(same) else near.sort_values("k")).iloc[0]
    scores["chosen"] = scores["k"] == best["k"]
    return int(best["k"]), scores, _warm_init(X, warm, int(best["k"]), config.seed)


def _enforce_min_size(X: np.ndarray, centroids: np.ndarray, min_size: int, weight: float = 1.0) -> np.ndarray:
    """Drop the smallest centroid until every cluster (scaled by ``weight``) reaches ``min_size``.

    Dropping a centroid and reassigning its members to their nearest remaining
    centroid keeps assignment equal to nearest-centroid scoring.
    """
    while len(centroids) > 1:
        labels, _ = nearest_centroid(X, centroids)
        sizes = np.bincount(labels, minlength=len(centroids)) * weight
        if sizes.min() >= min_size:
            break
        centroids = np.delete(centroids, sizes.argmin(), axis=0)
    return centroids


def _fit_level(frame: pd.DataFrame, weights: dict, k_min: int, k_max: int, min_size: int, population: int,
               config: SegmentationConfig, rng: np.random.Generator, prior: np.ndarray | None = None) -> LevelModel:
    index = _sample_index(len(frame), config.sample_size, rng)
    sample = frame.iloc[index]
    scaler = fit_scaler(sample, weights)
    X = scaler.transform(sample)
    # previous segments smaller than the minimum (scaled to the sample) do not seed the refit; their centres
    # come from the whole sample, so a refit on unchanged data starts, and ends, where the last fit did
    warm = _warm_start(X, None if prior is None else prior[index], int(min_size * len(sample) / population))
    selection = _sample_index(len(X), config.selection_sample, rng)
    k, candidates, init = choose_k(X[selection], k_min, k_max, config, rng, warm=warm)
    if k == 1:
        centroids = X.mean(0, keepdims=True)
    else:
        centroids = _centroids(_fit(X, k, config.algorithm, config.seed, init=init))
    # sizes on the sample are scaled up to the population they stand for
    centroids = _enforce_min_size(X, centroids, min_size, weight=population / len(sample))
    labels, _ = nearest_centroid(X, centroids)
    if len(centroids) > 1:
        stability, _ = _bootstrap_jaccard(X, labels, len(centroids), config, rng)
    else:
        stability = np.ones(1)
    return LevelModel(scaler=scaler, centroids=centroids, candidates=candidates, stability=stability)


def _order_by_size(labels: np.ndarray, model: LevelModel) -> np.ndarray:
    """Renumber centroids so segment 1 is the largest (stable ids across reruns with the same seed)."""
    sizes = np.bincount(labels, minlength=len(model.centroids))
    order = np.argsort(-sizes, kind="stable")
    model.centroids = model.centroids[order]
    model.stability = model.stability[order]
    remap = np.empty_like(order)
    remap[order] = np.arange(len(order))
    return remap[labels]


def fit_segments(features: pd.DataFrame, config: SegmentationConfig | None = None,
                 previous: pd.DataFrame | None = None, population: int | None = None) -> SegmentationResult:
    """Fit macro then micro segments on bounded samples and assign every customer of ``features``.

    ``features`` may itself be a sample of a larger base of ``population`` customers (the warehouse then
    assigns the rest, ``ml.scoring_sql``): minimum sizes and micro k are judged on the base it stands for.
    ``previous`` (customer_id, macro_segment_id, segment_id of the last published result) warm-starts a
    refit from those segments; ids are matched afterwards (``ml.segment_ids``)."""
    # One thread per fit: on samples this small, OpenMP threads spend more time waiting at barriers than
    # working (on 2 busy cores, 5x the CPU for the same fits); results are identical.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _fit_segments(features, config or SegmentationConfig(), previous, population)


def _fit_segments(features: pd.DataFrame, config: SegmentationConfig, previous: pd.DataFrame | None,
                  population: int | None) -> SegmentationResult:
    if "customer_id" not in features.columns:
        raise ValueError("customer features need a customer_id column")
    if features["customer_id"].duplicated().any():
        dupes = features.loc[features["customer_id"].duplicated(), "customer_id"].head(5).tolist()
        raise ValueError(f"customer_id must be unique in the features; duplicated e.g. {dupes}")
    rng = np.random.default_rng(config.seed)
    n = len(features)
    population = max(population or n, n)
    scale = population / n if n else 1.0  # customers of the base each customer of ``features`` stands for
    min_size = config.min_size(population)

    prior = (None if previous is None else
             previous.set_index("customer_id").reindex(features["customer_id"])[["macro_segment_id", "segment_id"]])
    macro = _fit_level(features, config.macro_weights, config.macro_k_min, config.macro_k_max, min_size, population,
                       config, rng,
                       prior=None if prior is None else prior["macro_segment_id"].to_numpy(dtype=object))
    X = macro.scaler.transform(features)
    macro_labels, macro_dist = nearest_centroid(X, macro.centroids)
    macro_labels = _order_by_size(macro_labels, macro)
    macro_ids = [f"M{i + 1}" for i in range(len(macro.centroids))]

    segment = np.empty(n, dtype=object)
    distance = np.empty(n, dtype=float)
    micro: dict[str, LevelModel] = {}
    micro_ids: dict[str, list[str]] = {}
    for m, macro_id in enumerate(macro_ids):
        members = np.flatnonzero(macro_labels == m)
        sub = features.iloc[members]
        # a macro too small to hold two micro segments of the minimum size stays whole
        members_in_base = round(len(members) * scale)
        k_max = max(1, min(config.micro_k_max, members_in_base // max(min_size, 1)))
        k_min = min(config.micro_k_min, k_max)
        model = _fit_level(sub, config.micro_weights, k_min, k_max, min_size, members_in_base, config, rng,
                           prior=None if prior is None else prior["segment_id"].to_numpy(dtype=object)[members])
        Xm = model.scaler.transform(sub)
        labels, dist = nearest_centroid(Xm, model.centroids)
        labels = _order_by_size(labels, model)
        ids = [f"{macro_id}.{j + 1}" for j in range(len(model.centroids))]
        segment[members] = np.array(ids, dtype=object)[labels]
        distance[members] = dist
        micro[macro_id], micro_ids[macro_id] = model, ids

    assignments = pd.DataFrame({
        "customer_id": features["customer_id"].to_numpy(),
        "macro_segment_id": np.array(macro_ids, dtype=object)[macro_labels],
        "segment_id": segment,
        "macro_distance": macro_dist,
        "distance": distance,
    })
    return SegmentationResult(assignments=assignments, macro=macro, micro=micro, macro_ids=macro_ids,
                              micro_ids=micro_ids)


def model_tables(result: SegmentationResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fitted model as two tables: scaling parameters and centroids, per level and parent.

    With these, a new customer is scored without refitting: scale each column as the
    parameters say, then take the nearest macro centroid, then the nearest micro
    centroid within it. Both steps are expressible in SQL.
    """
    scaling, centroids = [], []

    def add(level: str, parent: str | None, model: LevelModel, ids: list[str]):
        scaling.append(model.scaler.params.assign(level=level, parent_segment_id=parent))
        cols = model.scaler.columns
        for sid, vec in zip(ids, model.centroids):
            centroids.append(pd.DataFrame({"level": level, "parent_segment_id": parent, "segment_id": sid,
                                           "output_column": cols, "value": vec}))

    add("macro", None, result.macro, result.macro_ids)
    for parent, model in result.micro.items():
        add("micro", parent, model, result.micro_ids[parent])
    return pd.concat(scaling, ignore_index=True), pd.concat(centroids, ignore_index=True)
