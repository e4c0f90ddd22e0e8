"""Customer segments by k-means on value and needs (IDIC *Differentiate*, DESIGN.md §7).

One model per file, scikit-learn / lifetimes style: ``fit(frame) -> self``, fitted attributes end in ``_``,
``summary`` property, ``predict(frame)``.

Method
------
1. **Features** (one row per customer): recency_days, frequency, monetary, tenure_days, clv, cost_to_serve and the
   channel mix shares ``share_<channel>`` (:func:`channel_mix`). Feature columns absent from the frame (or entirely
   null) are skipped and the fit says which it used (``features_used_``).
2. **Transform.** Every feature except the channel shares is non-negative and right-skewed (money, counts, days), so
   it is clipped at 0 and log1p'd: k-means minimises squared Euclidean distance and would otherwise be driven by the
   few largest customers [2]. Clipping matters for CLV and margin-like inputs only: a negative predicted CLV counts as
   0 (no value), which keeps the log defined; the clipped customers land with the zero-value customers. Shares lie in
   [0, 1] already and are kept as they are. All columns are then standardised (z-scores, ``StandardScaler``) so each
   feature weighs the same.
3. **k by silhouette** [3]: for every k in ``k_range`` a ``KMeans(n_clusters=k, n_init=10, random_state=seed)`` [1]
   is fitted and scored by its mean silhouette coefficient; k = argmax (ties: the smaller k). Above ``sample_size``
   customers both the candidate fits and the silhouettes use one fixed random sample of ``sample_size`` customers
   (silhouette is O(n²)). The silhouettes of all candidate k are computed in a single pass over the sample's
   distance matrix (see :func:`silhouette_scores`), which equals ``sklearn.metrics.silhouette_score``.
4. **Final fit.** Small data: the chosen candidate fit is the model. Above ``sample_size``: one Lloyd run
   (``KMeans(k, init=<the sample's centres>, n_init=1)``) on every customer, started from the sample fit's centres.
   A full-data Lloyd run from a good start costs about a second for a million customers on two cores, so sampling the
   final fit (or MiniBatchKMeans) was not needed; starting from the sample's centres keeps the final clusters those
   that won the silhouette comparison. Measured in ``bench/segments.py``. Its silhouette on the sample updates the
   chosen candidate's distance sums for the few sample points the run moved (:func:`relabelled_distance_sums`)
   instead of a second pass over the distance matrix; a fixed-k fit of a sample an automatic fit has scored (the
   last few are kept in memory) updates that fit's sums for its k the same way.
5. **Stable labels.** Rows are put in ``customer_id`` order before anything else, so the same customers in any row
   order give the same sample, the same fits and the same labels. Clusters are ordered by a value score computed on
   their standardised centres, ``z(monetary) + z(frequency) + z(clv) − z(recency_days)`` (the terms the fit used),
   and numbered 1..k from most to least valuable; each is named by the first matching rule of ``segment_names.yaml``
   (data, not code, as pymc-marketing keeps its RFM segment map [4]). Names are unique within a fit: clusters a rule
   names alike are told apart by their most typical channel ("Champions · Store"), then by numbers.

Customers with a null or NaN value in a used feature (other than a share, where null means 0) cannot be placed; they
are left out of the fit (``n_skipped_``) and ``predict`` gives them a null segment.

References
----------
[1] scikit-learn 1.9, ``sklearn.cluster.KMeans`` (Lloyd's algorithm, k-means++ initialisation, Arthur & Vassilvitskii
    2007). https://scikit-learn.org/stable/modules/clustering.html#k-means
[2] Wedel, M. & Kamakura, W. A. (2000). *Market Segmentation: Conceptual and Methodological Foundations*, 2nd ed.,
    ch. 5 — transforming skewed bases (log) and standardising before non-hierarchical clustering.
[3] Rousseeuw, P. J. (1987). Silhouettes: a graphical aid to the interpretation and validation of cluster analysis.
    J. Comput. Appl. Math. 20, 53-65. s(i) = (b(i) − a(i)) / max(a(i), b(i)), s(i) = 0 for a singleton cluster.
[4] pymc-marketing, ``pymc_marketing/clv/utils.py`` ``rfm_segments`` (segment_map as data).
[5] Peppers, D. & Rogers, M. (2004). *Managing Customer Relationships*: IDIC — Identify, Differentiate, Interact,
    Customize.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from crm_core.metrics.scope import CHANNELS_SQL, Scope, purchases_sql

__all__ = [
    "FEATURES",
    "SHARE_PREFIX",
    "KMeansSegmenter",
    "channel_mix",
    "cluster_distance_sums",
    "load_naming_rules",
    "relabelled_distance_sums",
    "silhouette_scores",
]

#: Value and behaviour features, in the order they are used. Channel shares (``share_<channel>``) come after them.
FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary", "tenure_days", "clv", "cost_to_serve")
#: Prefix of the channel mix columns made by :func:`channel_mix`; these features are not log-transformed.
SHARE_PREFIX = "share_"
#: Terms of the value score used to order clusters: +1 the more the better, −1 the less the better.
VALUE_TERMS: dict[str, float] = {"monetary": 1.0, "frequency": 1.0, "clv": 1.0, "recency_days": -1.0}
#: Centre coordinates averaged into the ``value`` coordinate the naming rules may test.
VALUE_PARTS: tuple[str, ...] = ("monetary", "frequency", "clv")

NAMES_FILE = Path(__file__).with_name("segment_names.yaml")
_CHUNK_BYTES = 32 * 2**20  # distance-matrix rows computed at once by silhouette_scores
# Threads sharing the distance matrix's row chunks, each with one BLAS thread (_single_threaded_blas) and its own sums:
# a 20k sample with 7 labelings took 0.84 s with two against 1.48 s with one on two idle cores; the sums differ from
# one thread's in the last bits (another order of addition), the same every run.
_DISTANCE_WORKERS = min(4, os.cpu_count() or 1)

# The candidate fits' cluster distance sums of the last few samples (an automatic fit computes them for every k in
# k_range): a fit with a fixed k of the same sample then scores its final labels by updating them instead of
# another O(n²) pass (the Differentiate page offers "auto" first, then each k). Keyed by the sample's bytes, seed
# and n_init, and checked against the candidate's labels, so a hit is always the same computation.
_KEPT_SAMPLES = 4
_kept_sums: OrderedDict[bytes, dict[int, tuple[np.ndarray, np.ndarray]]] = OrderedDict()
_kept_lock = threading.Lock()


def _sample_key(S: np.ndarray, seed: int, n_init: int) -> bytes:
    digest = hashlib.blake2b(np.ascontiguousarray(S).tobytes(), digest_size=16)
    digest.update(f"{S.shape}/{seed}/{n_init}".encode())
    return digest.digest()


def _keep_sums(key: bytes, per_k: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
    with _kept_lock:
        _kept_sums[key] = per_k
        _kept_sums.move_to_end(key)
        while len(_kept_sums) > _KEPT_SAMPLES:
            _kept_sums.popitem(last=False)


def _kept(key: bytes, k: int, labels: np.ndarray) -> np.ndarray | None:
    """The kept distance sums of candidate ``k`` of this sample when its labels are ``labels``."""
    with _kept_lock:
        hit = _kept_sums.get(key, {}).get(k)
    if hit is None or not np.array_equal(hit[0], labels):
        return None
    return hit[1]


# --------------------------------------------------------------------------------------------------------------
# naming rules (data: segment_names.yaml)
# --------------------------------------------------------------------------------------------------------------
@cache
def _default_rules() -> tuple[dict, ...]:
    return _check_rules(yaml.safe_load(NAMES_FILE.read_text(encoding="utf-8")))


def _check_rules(doc: Any) -> tuple[dict, ...]:
    rules = doc.get("rules") if isinstance(doc, Mapping) else doc
    if not isinstance(rules, Sequence) or not rules:
        raise ValueError("Segment naming rules must be a non-empty list under 'rules'.")
    out = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping) or not rule.get("name"):
            raise ValueError(f"Segment naming rule {i + 1} needs a 'name'.")
        when = rule.get("when") or {}
        for feature, cond in when.items():
            if not isinstance(cond, Mapping) or not ({"min", "max"} & set(cond)):
                raise ValueError(f"Rule {rule['name']!r}: condition on {feature!r} needs 'min' and/or 'max'.")
        out.append({"name": str(rule["name"]), "when": dict(when), "action": str(rule.get("action", ""))})
    if out[-1]["when"]:
        raise ValueError("The last segment naming rule must have no conditions, so that every cluster gets a name.")
    return tuple(out)


def load_naming_rules(source: str | Path | Mapping | Sequence | None = None) -> tuple[dict, ...]:
    """Naming rules: ``None`` → the packaged ``segment_names.yaml``; a path → that YAML file; a mapping with
    ``rules`` or a list of rules → checked as given.

    Returns
    -------
    tuple of dict
        ``{"name", "when", "action"}`` per rule, in priority order.
    """
    if source is None:
        return _default_rules()
    if isinstance(source, (str, Path)):
        return _check_rules(yaml.safe_load(Path(source).read_text(encoding="utf-8")))
    return _check_rules(source)


def _rule_matches(when: Mapping, coords: Mapping[str, float]) -> bool:
    for feature, cond in when.items():
        if feature not in coords:
            if cond.get("if_missing", False):
                continue
            return False
        z = coords[feature]
        if "min" in cond and not z >= float(cond["min"]):
            return False
        if "max" in cond and not z <= float(cond["max"]):
            return False
    return True


def _name_clusters(centres_z: np.ndarray, features: Sequence[str], rules: Sequence[dict]) -> tuple[list, list]:
    """Name each (ordered) cluster from its standardised centre; make names unique.

    Clusters that a rule names alike are told apart by their most typical channel (the ``share_*``
    feature furthest above average, e.g. "Champions · Store"); numbers (" 2", " 3") only where that does
    not separate them either.
    """
    base, actions, qualifiers = [], [], []
    shares = [i for i, f in enumerate(features) if f.startswith(SHARE_PREFIX)]
    for centre in centres_z:
        coords = dict(zip(features, map(float, centre), strict=True))
        parts = [coords[f] for f in VALUE_PARTS if f in coords]
        if parts:
            coords["value"] = float(np.mean(parts))
        rule = next(r for r in rules if _rule_matches(r["when"], coords))
        base.append(rule["name"])
        actions.append(rule["action"])
        top = max(shares, key=lambda i: centre[i]) if shares else None
        qualifiers.append(None if top is None else features[top][len(SHARE_PREFIX):].replace("_", " ").title())
    repeated = {n for n in base if base.count(n) > 1}
    names = [f"{n} · {q}" if n in repeated and q else n for n, q in zip(base, qualifiers, strict=True)]
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        count = seen[n] = seen.get(n, 0) + 1
        unique.append(n if count == 1 else f"{n} {count}")
    return unique, actions


# --------------------------------------------------------------------------------------------------------------
# silhouette of several labelings in one pass
# --------------------------------------------------------------------------------------------------------------
def _single_threaded_blas():
    """One BLAS thread for the silhouette's chunked matrix products: measured on 2 busy cores (20k sample, 7
    labelings) 2.1-2.5 s every run, against 1.6 s idle but 4.5-9 s under load with OpenBLAS' thread pool (the same
    hand-off cost noted in bgnbd.py). threadpoolctl ships with scikit-learn."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _single_threaded_openmp():
    """One OpenMP thread for the k-means fits of the sample: scikit-learn's Lloyd iterations hand chunks of 256
    points to its OpenMP threads, and on a sample of 20k points and two cores the hand-offs cost more than they
    save. At 10M transactions (the features of the last 200 days' 490k buyers) the seven candidate fits of an
    automatic segmentation, n_init 10 each, took 0.45-0.64 s against 1.48-2.27 s with the default threads, with the
    same labels and inertia; the whole fit 1.7-2.1 s against 2.6-3.4 s, the same silhouettes. The final fit on
    every customer gains nothing either way and keeps the default."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def silhouette_scores(
    X: np.ndarray, labelings: Sequence[np.ndarray], *, chunk_bytes: int = _CHUNK_BYTES
) -> list[tuple[float, np.ndarray]]:
    """Mean silhouette coefficient [3] of several labelings of the same points, Euclidean distance.

    The distance matrix is computed once, in row chunks, and its row sums per cluster for *every* labeling come from
    one matrix product with the stacked one-hot label matrices, instead of one distance pass per labeling as
    ``sklearn.metrics.silhouette_score`` would need. Results equal scikit-learn's (tested).

    Parameters
    ----------
    X
        Points, shape (n, d).
    labelings
        Integer labels 0..k−1 per point, one array per candidate clustering. Empty clusters are allowed.

    Returns
    -------
    list of (float, ndarray)
        Per labeling: the mean silhouette (NaN when it is undefined: fewer than 2 or as many clusters as points) and
        the mean silhouette per label 0..k−1 (NaN for an empty label).
    """
    labelings = [np.asarray(lab, dtype=np.int64) for lab in labelings]
    return [_scores(sums, lab) for sums, lab in zip(cluster_distance_sums(X, labelings, chunk_bytes=chunk_bytes),
                                                     labelings, strict=True)]


def cluster_distance_sums(
    X: np.ndarray, labelings: Sequence[np.ndarray], *, chunk_bytes: int = _CHUNK_BYTES
) -> list[np.ndarray]:
    """Per labeling, the (n, k) matrix of Σ_j d(i, j) over the members j of each cluster (what the silhouette is
    made of), from one chunked pass over the distance matrix (see :func:`silhouette_scores`)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    labelings = [np.asarray(lab, dtype=np.int64) for lab in labelings]
    ks = [int(lab.max()) + 1 if n else 0 for lab in labelings]
    offsets = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)
    onehot = np.zeros((n, int(offsets[-1])), dtype=np.float64)
    rows = np.arange(n)
    for j, lab in enumerate(labelings):
        onehot[rows, offsets[j] + lab] = 1.0
    sq = np.einsum("ij,ij->i", X, X)
    step = max(1, int(chunk_bytes // (8 * max(n, 1))))
    starts = range(0, n, step)
    workers = max(1, min(_DISTANCE_WORKERS, len(starts)))
    parts = [np.zeros_like(onehot) for _ in range(workers)]

    def add(worker: int) -> None:
        # The distance matrix is symmetric: each row chunk i = start..stop-1 takes the columns j >= start only
        # (half the work of the whole matrix), adds d(i, j) to its own rows' sums and, for j >= stop, to row j's
        # sums under i's cluster; the pairs with j < start were added by the earlier chunks.
        sums = parts[worker]
        for start in starts[worker::workers]:  # row chunks of the distance matrix (not a loop over customers)
            stop = min(n, start + step)
            d2 = X[start:stop] @ X[start:].T
            d2 *= -2.0
            d2 += sq[start:stop, None]
            d2 += sq[None, start:]
            np.maximum(d2, 0.0, out=d2)
            d2[np.arange(stop - start), np.arange(stop - start)] = 0.0  # exact zero self-distance
            np.sqrt(d2, out=d2)
            sums[start:stop] += d2 @ onehot[start:]
            sums[stop:] += d2[:, stop - start:].T @ onehot[start:stop]

    with _single_threaded_blas():
        if workers == 1:
            add(0)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="crm-lens-silhouette") as pool:
                list(pool.map(add, range(workers)))  # numpy releases the GIL in the products
    sums = parts[0]
    for part in parts[1:]:
        sums += part  # in worker order: the same sums every run
    return [sums[:, offsets[j]: offsets[j + 1]] for j in range(len(labelings))]


def relabelled_distance_sums(X: np.ndarray, sums: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """:func:`cluster_distance_sums` of labels ``new`` from those of ``old`` (same points, labels 0..k−1 of the
    same k): only the distances to the points whose label changed are computed, O(n · changed) instead of O(n²).

    The final fit above ``sample_size`` starts from the chosen sample fit's centres and moves few sample points to
    another cluster, so its silhouette costs a fraction of a second instead of a second distance pass."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    old, new = np.asarray(old, dtype=np.int64), np.asarray(new, dtype=np.int64)
    k = sums.shape[1]
    changed = np.flatnonzero(old != new)
    if changed.size == 0:
        return sums.copy()
    if changed.size > X.shape[0] // 2 or int(new.max()) >= k:  # most points moved (or more labels): a full pass
        return cluster_distance_sums(X, [new])[0]
    sq = np.einsum("ij,ij->i", X, X)
    with _single_threaded_blas():
        d2 = X @ X[changed].T
        d2 *= -2.0
        d2 += sq[:, None]
        d2 += sq[None, changed]
        np.maximum(d2, 0.0, out=d2)
        d2[changed, np.arange(changed.size)] = 0.0  # exact zero self-distance
        np.sqrt(d2, out=d2)
        moved = np.zeros((changed.size, k), dtype=np.float64)
        moved[np.arange(changed.size), new[changed]] += 1.0
        moved[np.arange(changed.size), old[changed]] -= 1.0
        return sums + d2 @ moved


def _scores(block: np.ndarray, lab: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean silhouette and mean silhouette per label from a labeling's cluster distance sums."""
    n, k = block.shape
    rows = np.arange(n)
    size = np.bincount(lab, minlength=k).astype(np.float64)
    own_size = size[lab]
    a = block[rows, lab] / np.maximum(own_size - 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_other = np.where(size > 0, block / size, np.inf)
    mean_other[rows, lab] = np.inf
    b = mean_other.min(axis=1) if k > 1 else np.full(n, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (b - a) / np.maximum(a, b)
    s = np.nan_to_num(s, nan=0.0, posinf=0.0, neginf=0.0)
    s[own_size <= 1] = 0.0  # Rousseeuw: a singleton cluster has s = 0
    used = int((size > 0).sum())
    mean = float(s.mean()) if 2 <= used <= n - 1 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.bincount(lab, weights=s, minlength=k) / size
    return mean, per


# --------------------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------------------
class KMeansSegmenter:
    """k-means customer segments with k chosen by silhouette, ordered and named by profile.

    Parameters
    ----------
    k
        Number of segments, or ``"auto"`` to choose it by silhouette within ``k_range``. A forced k larger than the
        number of distinct customer profiles is lowered to that number (with a warning).
    k_range
        Inclusive (min, max) k tried when ``k="auto"``.
    seed
        Seed of the customer sample and of k-means (``random_state``).
    sample_size
        Above this many customers, k is chosen on a fixed random sample of this many.
    features
        Feature columns to use; ``None`` → :data:`FEATURES` plus every ``share_*`` column. Missing columns are
        skipped.
    n_init
        k-means restarts per candidate k (scikit-learn's ``n_init``).
    rules
        Naming rules (see :func:`load_naming_rules`); ``None`` → ``segment_names.yaml``.

    Attributes
    ----------
    k_ : int
    silhouette_ : dict[int, float]
        Mean silhouette per k tried (on the sample above ``sample_size`` customers).
    features_used_ : tuple[str, ...]
    labels_ : pl.DataFrame
        ``customer_id, segment_id, segment`` per fitted customer, in customer_id order.
    centers_ : pl.DataFrame
        Cluster centres in original units (log features back-transformed with expm1, so a geometric-type centre).
    profile_ : pl.DataFrame
        Per segment: customers, customer_share, revenue, revenue_share, mean_<feature> (original units),
        main_channel (highest mean channel share; null without shares), silhouette (on the sample), action.
    n_customers_, n_skipped_ : int
    sampled_ : bool
    """

    def __init__(
        self,
        k: int | str = "auto",
        k_range: tuple[int, int] = (2, 8),
        seed: int = 42,
        sample_size: int = 20_000,
        features: Sequence[str] | None = None,
        *,
        n_init: int = 10,
        rules: str | Path | Mapping | Sequence | None = None,
    ):
        self.k = k
        self.k_range = k_range
        self.seed = seed
        self.sample_size = sample_size
        self.features = None if features is None else tuple(features)
        self.n_init = n_init
        self.rules = rules

    # ---------------------------------------------------------------------------------------------- preparation
    def _check_params(self) -> None:
        if self.k != "auto" and not (isinstance(self.k, (int, np.integer)) and self.k >= 1):
            raise ValueError(f"k must be 'auto' or a positive integer, not {self.k!r}.")
        lo, hi = self.k_range
        if not (2 <= lo <= hi):
            raise ValueError(f"k_range must be (min, max) with 2 <= min <= max, not {self.k_range!r}.")
        if self.sample_size < 2:
            raise ValueError("sample_size must be at least 2.")

    def _select_features(self, frame: pl.DataFrame) -> tuple[str, ...]:
        wanted = self.features
        if wanted is None:
            wanted = FEATURES + tuple(sorted(c for c in frame.columns if c.startswith(SHARE_PREFIX)))
        used = []
        for col in wanted:
            if col not in frame.columns or frame[col].null_count() == frame.height:
                continue
            if not frame.schema[col].is_numeric():
                raise ValueError(f"Feature column {col!r} must be numeric, not {frame.schema[col]}.")
            used.append(col)
        if not used:
            raise ValueError(
                f"None of the feature columns {', '.join(wanted)} is in the frame (it has {', '.join(frame.columns)})."
            )
        return tuple(used)

    @staticmethod
    def _clean(frame: pl.DataFrame, used: Sequence[str]) -> pl.DataFrame:
        """customer_id + used features as Float64; share nulls → 0; NaN → null."""
        exprs = []
        for col in used:
            e = pl.col(col).cast(pl.Float64)
            e = pl.when(e.is_nan()).then(None).otherwise(e)
            if col.startswith(SHARE_PREFIX):
                e = e.fill_null(0.0)
            exprs.append(e.alias(col))
        return frame.select(pl.col("customer_id"), *exprs)

    def _log_mask(self) -> np.ndarray:
        return np.array([not f.startswith(SHARE_PREFIX) for f in self.features_used_])

    def _raw_to_log(self, raw: np.ndarray) -> np.ndarray:
        mask = self._log_mask()
        out = raw.copy()
        # Negative values (e.g. a negative CLV) are clipped at 0 before log1p: see the module docstring, step 2.
        out[:, mask] = np.log1p(np.clip(raw[:, mask], 0.0, None))
        return out

    # ---------------------------------------------------------------------------------------------- fit
    def fit(self, frame: pl.DataFrame) -> KMeansSegmenter:
        """Fit segments to one row per customer.

        Parameters
        ----------
        frame
            ``customer_id`` (unique) and feature columns (see :data:`FEATURES`, ``share_*``).

        Returns
        -------
        KMeansSegmenter
            self, fitted.

        Raises
        ------
        ValueError
            No customer_id column, duplicate customer ids, no usable feature column, or fewer than 2 customers with
            complete features.
        """
        self._check_params()
        if "customer_id" not in frame.columns:
            raise ValueError("The frame needs a 'customer_id' column (one row per customer).")
        if frame["customer_id"].is_duplicated().any():
            dup = frame.filter(pl.col("customer_id").is_duplicated())["customer_id"].head(3).to_list()
            raise ValueError(f"customer_id must be unique: repeated ids such as {dup}.")
        self.features_used_ = self._select_features(frame)
        used = list(self.features_used_)
        data = self._clean(frame, used).sort("customer_id")  # row order never matters (stable labels)
        complete = data.drop_nulls(used)
        self.n_skipped_ = data.height - complete.height
        n = complete.height
        if n < 2:
            raise ValueError(
                f"Segmenting needs at least 2 distinct customers with complete features; got {n}"
                + (f" ({self.n_skipped_} more have missing values in {', '.join(used)})." if self.n_skipped_ else ".")
            )
        raw = complete.select(used).to_numpy().astype(np.float64, copy=False)
        from sklearn.preprocessing import StandardScaler  # scikit-learn takes ~1.7 s to import: only to fit

        self.scaler_ = StandardScaler()
        X = self.scaler_.fit_transform(self._raw_to_log(raw))

        rng = np.random.default_rng(self.seed)
        self.sampled_ = n > self.sample_size
        sample_idx = np.sort(rng.choice(n, self.sample_size, replace=False)) if self.sampled_ else np.arange(n)
        S = X[sample_idx]
        # k-means cannot make more clusters than distinct points; points closer than 1e-9 standard deviations
        # are one profile to it (a hypothesis example: recency 0, 0 and 1.6e-179 days gave one cluster for k=2)
        distinct = int(np.unique(np.round(S, 9), axis=0).shape[0])

        self.notes_: list[str] = []
        if self.k == "auto":
            lo, hi = self.k_range
            ks = list(range(lo, min(hi, distinct) + 1))
        else:
            ks = [min(int(self.k), distinct)]
            if ks[0] < int(self.k):
                self._note(f"k={self.k} asked, but the customers have only {distinct} distinct profiles: k={ks[0]}.")
        if not ks or ks == [1]:
            self._note("Every customer has the same profile: one segment.")
            ks = [1]

        with _single_threaded_openmp():  # the sample's fits: see there
            fits = {k: self._kmeans(k).fit(S) for k in ks}
        if ks == [1] or (len(ks) == 1 and self.sampled_):  # nothing to choose; scored after the final fit
            scores = [(float("nan"), np.full(ks[0], np.nan))]
            sums = None
        else:
            labelings = [fits[k].labels_.astype(np.int64) for k in ks]
            sums = cluster_distance_sums(S, labelings)
            scores = [_scores(block, lab) for block, lab in zip(sums, labelings, strict=True)]
            if self.sampled_:
                _keep_sums(_sample_key(S, self.seed, self.n_init),
                           {k: (lab, block) for k, lab, block in zip(ks, labelings, sums, strict=True)})
        self.silhouette_ = {k: s for k, (s, _) in zip(ks, scores, strict=True)} if ks != [1] else {}
        valid = [k for k in ks if np.isfinite(self.silhouette_.get(k, np.nan))]
        self.k_ = max(valid, key=lambda k: (self.silhouette_[k], -k)) if valid else ks[0]

        if self.sampled_:
            # One Lloyd run on every customer, started from the winning sample fit's centres (step 4).
            from sklearn.cluster import KMeans

            self.kmeans_ = KMeans(
                n_clusters=self.k_, init=fits[self.k_].cluster_centers_, n_init=1, random_state=self.seed
            ).fit(X)
            raw_labels = self.kmeans_.labels_
            final = raw_labels[sample_idx].astype(np.int64)
            start = fits[self.k_].labels_.astype(np.int64)
            base = sums[ks.index(self.k_)] if sums is not None else (
                _kept(_sample_key(S, self.seed, self.n_init), self.k_, start) if self.k_ > 1 else None)
            if self.k_ > 1 and base is not None:  # the chosen fit's sums, updated for the points that moved
                overall, per = _scores(relabelled_distance_sums(S, base, start, final), final)
            elif self.k_ > 1:
                overall, per = silhouette_scores(S, [final])[0]
            else:
                overall, per = float("nan"), np.array([np.nan])
            if len(ks) == 1 and self.k_ > 1:
                self.silhouette_[self.k_] = overall
        else:
            self.kmeans_ = fits[self.k_]
            raw_labels = self.kmeans_.labels_
            overall, per = scores[ks.index(self.k_)]
        self.silhouette_score_ = overall

        # Order clusters by value score, most valuable first; ties broken by the centre coordinates.
        centres = self.kmeans_.cluster_centers_
        score = sum(
            w * centres[:, used.index(f)] for f, w in VALUE_TERMS.items() if f in used
        ) if any(f in used for f in VALUE_TERMS) else np.zeros(self.k_)
        order = np.lexsort((*centres.T[::-1], -np.round(score, 12)))  # order[new] = old
        self._rank = np.empty(self.k_, dtype=np.int64)
        self._rank[order] = np.arange(self.k_)  # rank[old] = new (0-based)
        self._names, self._actions = _name_clusters(centres[order], used, load_naming_rules(self.rules))
        self._names_arr = np.array(self._names, dtype=object)

        seg_id = self._rank[raw_labels] + 1
        self.labels_ = pl.DataFrame(
            {
                "customer_id": complete["customer_id"],
                "segment_id": pl.Series(seg_id, dtype=pl.Int32),
                "segment": pl.Series(self._names_arr[seg_id - 1], dtype=pl.String),
            }
        )
        self.n_customers_ = n

        back = self.scaler_.inverse_transform(centres[order])
        mask = self._log_mask()
        back[:, mask] = np.expm1(np.maximum(back[:, mask], 0.0))  # log1p values are >= 0; drop round-off
        self.centers_ = pl.DataFrame(
            {"segment_id": pl.Series(np.arange(1, self.k_ + 1), dtype=pl.Int32),
             "segment": self._names, **{f: back[:, i] for i, f in enumerate(used)}}
        )
        self.profile_ = self._profile(complete.with_columns(segment_id=pl.Series(seg_id, dtype=pl.Int32)),
                                      frame, per[order])
        return self

    def _kmeans(self, k: int) -> KMeans:
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed)

    def _note(self, text: str) -> None:
        self.notes_.append(text)
        warnings.warn(text, stacklevel=3)

    def _profile(self, fitted: pl.DataFrame, frame: pl.DataFrame, silhouettes: np.ndarray) -> pl.DataFrame:
        used = list(self.features_used_)
        if "monetary" in frame.columns and "monetary" not in used:
            fitted = fitted.join(frame.select("customer_id", pl.col("monetary").cast(pl.Float64)),
                                 on="customer_id", how="left")
        segments = pl.DataFrame(
            {"segment_id": pl.Series(np.arange(1, self.k_ + 1), dtype=pl.Int32), "segment": self._names,
             "silhouette": pl.Series(silhouettes, dtype=pl.Float64), "action": self._actions}
        )
        return segment_profile(fitted, used, segments)


    # ---------------------------------------------------------------------------------------------- use
    def _check_fitted(self) -> None:
        if not hasattr(self, "kmeans_"):
            raise RuntimeError("This KMeansSegmenter is not fitted yet: call fit(frame) first.")

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Segment of each customer of ``frame`` (same row order) under the fitted model.

        Returns
        -------
        pl.DataFrame
            ``customer_id, segment_id, segment``; null segment where a used feature is missing.
        """
        self._check_fitted()
        missing = [f for f in self.features_used_ if f not in frame.columns and not f.startswith(SHARE_PREFIX)]
        if "customer_id" not in frame.columns or missing:
            raise ValueError(f"predict needs customer_id and the fitted features; missing: {missing or ['customer_id']}.")
        frame = frame.with_columns(
            pl.lit(0.0).alias(f) for f in self.features_used_ if f not in frame.columns
        )
        data = self._clean(frame, self.features_used_)
        ok = ~data.select(pl.any_horizontal(pl.col(list(self.features_used_)).is_null())).to_series().to_numpy()
        seg_id = np.zeros(data.height, dtype=np.int64)
        if ok.any():
            raw = data.filter(pl.Series(ok)).select(list(self.features_used_)).to_numpy().astype(np.float64)
            X = self.scaler_.transform(self._raw_to_log(raw))
            seg_id[ok] = self._rank[self.kmeans_.predict(X)] + 1
        ids = pl.Series("segment_id", seg_id, dtype=pl.Int32)
        return pl.DataFrame({"customer_id": data["customer_id"]}).with_columns(
            pl.when(pl.Series(ok)).then(ids).otherwise(None).alias("segment_id"),
            pl.when(pl.Series(ok)).then(
                pl.Series(self._names_arr[np.maximum(seg_id, 1) - 1], dtype=pl.String)
            ).otherwise(None).alias("segment"),
        )

    @property
    def summary(self) -> dict:
        """Headline facts of the fit: customers, k, silhouettes, features, segment sizes, notes."""
        self._check_fitted()
        return {
            "customers": self.n_customers_,
            "skipped": self.n_skipped_,
            "k": self.k_,
            "silhouette": self.silhouette_score_,
            "silhouette_by_k": dict(self.silhouette_),
            "sampled": self.sampled_,
            "sample_size": min(self.sample_size, self.n_customers_),
            "features": list(self.features_used_),
            "segments": dict(zip(self.profile_["segment"], self.profile_["customers"], strict=True)),
            "notes": list(self.notes_),
        }


def segment_profile(fitted: pl.DataFrame, used: Sequence[str], segments: pl.DataFrame) -> pl.DataFrame:
    """The profile of segmented customers: per segment of ``segments`` (segment_id, segment, silhouette, action)
    its customers and share of them, revenue (sum of ``monetary`` when a column) and share, the mean of each
    ``used`` feature and the main channel (highest mean ``share_*``), from ``fitted`` (one row per segmented
    customer: segment_id and the features as fitted). Used by :class:`KMeansSegmenter`; a group of the customers
    it segmented sums their :func:`segment_sums` (``crm_core.views.segmentation`` under a region filter)."""
    return profile_of_sums(segment_sums(fitted, used), used, segments)


def segment_sums(fitted: pl.DataFrame, used: Sequence[str], by: Sequence[str] = ()) -> pl.DataFrame:
    """What :func:`segment_profile` is made of, per segment_id and the columns ``by``: customers, revenue (sum of
    ``monetary``; null without that column), and per ``used`` feature ``sum_<f>`` and ``n_<f>`` (its non-null
    values). Every column is a sum over customers, so those of a group of customers are the sums of its parts'."""
    has_money = "monetary" in fitted.columns
    return fitted.group_by("segment_id", *by).agg(
        pl.len().cast(pl.Int64).alias("customers"),
        (pl.col("monetary").sum() if has_money else pl.lit(None, dtype=pl.Float64)).alias("revenue"),
        *[pl.col(f).sum().alias(f"sum_{f}") for f in used],
        *[pl.col(f).count().cast(pl.Int64).alias(f"n_{f}") for f in used],
    )


def profile_of_sums(sums: pl.DataFrame, used: Sequence[str], segments: pl.DataFrame) -> pl.DataFrame:
    """:func:`segment_profile` from :func:`segment_sums` by segment_id alone: a feature's mean is its sum over
    its non-null values' count (null without any)."""
    used = list(used)
    stats = sums.select(
        "segment_id", "customers", "revenue",
        *[pl.when(pl.col(f"n_{f}") > 0).then(pl.col(f"sum_{f}") / pl.col(f"n_{f}")).alias(f"mean_{f}")
          for f in used],
    )
    prof = segments.join(stats, on="segment_id", how="left").with_columns(
        pl.col("customers").fill_null(0)
    )
    shares = [f for f in used if f.startswith(SHARE_PREFIX)]
    if shares:  # the channel with the highest mean share: k-means on channel mix tends to split by channel
        prof = prof.with_columns(
            pl.concat_list([pl.col(f"mean_{f}") for f in shares]).list.arg_max()
            .replace_strict(list(range(len(shares))), [f[len(SHARE_PREFIX):] for f in shares],
                            return_dtype=pl.String).alias("main_channel")
        )
    else:
        prof = prof.with_columns(pl.lit(None, dtype=pl.String).alias("main_channel"))
    has_money = sums["revenue"].dtype != pl.Null and sums["revenue"].null_count() < sums.height
    total_rev = prof["revenue"].sum() if has_money else None
    total = int(sums["customers"].sum())
    return prof.select(
        "segment_id", "segment", "customers",
        (pl.col("customers") / total).alias("customer_share"),
        "revenue",
        (pl.col("revenue") / total_rev if total_rev else pl.lit(None, dtype=pl.Float64)).alias("revenue_share"),
        *[f"mean_{f}" for f in used],
        "main_channel", "silhouette", "action",
    ).sort("segment_id")


# --------------------------------------------------------------------------------------------------------------
# channel mix (needs-based feature)
# --------------------------------------------------------------------------------------------------------------
_CHANNEL_KEY = (
    "COALESCE(NULLIF(regexp_replace(regexp_replace(lower(trim(p.channel)), '[^a-z0-9]+', '_', 'g'), "
    "'^_+|_+$', '', 'g'), ''), 'unknown')"
)


# Above this many channel names the shares come from (customer, channel) rows spread by Polars; up to it, one
# group-by per customer with a filtered sum per channel. At 10M transactions, the last 200 days (2.6M completed
# purchases, four channels): 0.25 s against 0.76 s, the normalising regexes run on the few names rather than on
# every purchase, and no window function, sort of the rows or pivot.
WIDE_CHANNELS_MAX = 64


def channel_mix(store, scope: Scope, *, weight: str = "orders") -> pl.DataFrame:
    """Each customer's share of completed purchases in the scope per sales channel.

    Channel names become column names ``share_<channel>``: lower case, runs of other characters than a-z and 0-9
    turned into ``_`` ("Web Shop" → ``share_web_shop``; names that normalise alike are merged); a missing channel is
    ``unknown``. The dataset's channel names are normalised first (a query over the names alone), then one DuckDB
    group-by sums each customer's purchases per normalised channel (:data:`WIDE_CHANNELS_MAX`).

    Parameters
    ----------
    store
        A :class:`crm_core.store.Store`.
    scope
        Dataset, analysis window and filters (:class:`crm_core.metrics.scope.Scope`).
    weight
        ``"orders"`` (share of completed purchase rows) or ``"revenue"`` (share of their amount; a customer whose
        amounts sum to 0 or less gets null shares).

    Returns
    -------
    pl.DataFrame
        ``customer_id`` and one Float64 ``share_<channel>`` column per channel of the scope (sorted), each row
        summing to 1; customers without completed purchases in the scope have no row.
    """
    if weight not in {"orders", "revenue"}:
        raise ValueError(f"weight must be 'orders' or 'revenue', not {weight!r}.")
    names = [row[0] for row in store.cursor().execute(CHANNELS_SQL, [scope.dataset_id]).fetchall()]
    if len(names) > WIDE_CHANNELS_MAX:
        return _channel_mix_long(store, scope, weight)
    keys: dict[str, list[str]] = {}
    if names:
        normalised = store.cursor().execute(
            f"SELECT p.channel, {_CHANNEL_KEY} FROM (SELECT unnest(?::VARCHAR[]) AS channel) AS p", [names]
        ).fetchall()
        for name, key in normalised:
            keys.setdefault(key, []).append(name)
    keys.setdefault("unknown", [])  # a missing channel
    ordered = sorted(keys)
    measure = "COUNT(*)" if weight == "orders" else "COALESCE(SUM(p.amount), 0)::DOUBLE"
    params: dict = {}
    parts = []
    for i, key in enumerate(ordered):
        params[f"mix_{i}"] = keys[key]
        where = f"list_contains($mix_{i}::VARCHAR[], p.channel)" + (" OR p.channel IS NULL" if key == "unknown"
                                                                     else "")
        parts.append(f"COUNT(*) FILTER (WHERE {where}) AS n_{i}")
        if weight == "revenue":
            parts.append(f"COALESCE(SUM(p.amount) FILTER (WHERE {where}), 0)::DOUBLE AS w_{i}")
    weights = [f"n_{i}" if weight == "orders" else f"w_{i}" for i in range(len(ordered))]
    query = f"""
        SELECT customer_id, {", ".join(f"n_{i}" for i in range(len(ordered)))},
               {", ".join(f"CASE WHEN total > 0 THEN {w}::DOUBLE / total END AS s_{i}"
                          for i, w in enumerate(weights))}
        FROM (
            SELECT p.customer_id, {measure} AS total, {", ".join(parts)}
            FROM ({purchases_sql(windowed=True, statuses=("completed",), filtered=scope.filtered)}) AS p
            GROUP BY p.customer_id
        )
        ORDER BY customer_id
    """
    wide = store.query(query, {**scope.params(query), **params})
    if wide.is_empty():
        return pl.DataFrame({"customer_id": pl.Series([], dtype=pl.String)})
    present = [i for i in range(len(ordered)) if wide[f"n_{i}"].sum() > 0]  # channels the scope's purchases use
    return wide.select(pl.col("customer_id").cast(pl.String),
                       *[pl.col(f"s_{i}").cast(pl.Float64).alias(SHARE_PREFIX + ordered[i]) for i in present])


def _channel_mix_long(store, scope: Scope, weight: str) -> pl.DataFrame:
    """:func:`channel_mix` from (customer, channel, share) rows spread into columns by Polars: for a dataset of
    more than :data:`WIDE_CHANNELS_MAX` channel names (a dynamic DuckDB ``PIVOT`` cannot take bound parameters in
    its source)."""
    measure = "COUNT(*)::DOUBLE" if weight == "orders" else "COALESCE(SUM(p.amount), 0)::DOUBLE"
    query = f"""
        WITH per AS (
            SELECT p.customer_id, {_CHANNEL_KEY} AS channel, {measure} AS w
            FROM ({purchases_sql(windowed=True, statuses=("completed",), filtered=scope.filtered)}) AS p
            GROUP BY ALL
        )
        SELECT customer_id, channel,
               CASE WHEN SUM(w) OVER (PARTITION BY customer_id) > 0
                    THEN w / SUM(w) OVER (PARTITION BY customer_id) END AS share
        FROM per
        ORDER BY customer_id, channel
    """
    long = store.query(query, scope.params(query))
    if long.is_empty():
        return pl.DataFrame({"customer_id": pl.Series([], dtype=pl.String)})
    channels = sorted(long["channel"].unique().to_list())
    wide = long.pivot(on="channel", index="customer_id", values="share", on_columns=channels)
    nulls = long.group_by("customer_id").agg(pl.col("share").is_null().any().alias("_undefined"))
    wide = wide.join(nulls, on="customer_id", how="left")
    shares = [
        pl.when(pl.col("_undefined")).then(None).otherwise(pl.col(c).fill_null(0.0)).alias(SHARE_PREFIX + c)
        for c in channels
    ]
    return wide.select(pl.col("customer_id").cast(pl.String), *shares).sort("customer_id")
