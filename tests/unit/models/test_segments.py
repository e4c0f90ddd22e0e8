"""k-means segments: well-separated blobs recovered exactly (adjusted Rand index from scikit-learn as the second
opinion), silhouettes equal to scikit-learn's, stable labels under row shuffling, forced k, invariants (hypothesis),
clear errors, channel mix against hand-computed shares, and a fit on the sample company."""

from __future__ import annotations

import warnings
from datetime import datetime

import numpy as np
import numpy.testing as npt
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, silhouette_samples, silhouette_score

from crm_core.metrics.scope import Scope
from crm_core.models.segments import (
    FEATURES,
    KMeansSegmenter,
    channel_mix,
    cluster_distance_sums,
    load_naming_rules,
    relabelled_distance_sums,
    silhouette_scores,
)
from crm_core.store import Store, TableLoad

# Three groups far apart in log space (σ = 0.1 around each centre, centres 2+ log units apart on every feature):
#   group 0: bought 7 days ago, 20 purchases, 3000 revenue, 3 years a customer   -> the most valuable
#   group 1: 55 days, 4.5 purchases, 400 revenue, 1 year
#   group 2: 400 days, 1 purchase, 55 revenue, 3 years                              -> dormant
BLOB_CENTRES = {
    "recency_days": (2.0, 4.0, 6.0),
    "frequency": (3.0, 1.5, 0.0),
    "monetary": (8.0, 6.0, 4.0),
    "tenure_days": (7.0, 6.0, 7.0),
}
BLOB_SIZES = (120, 200, 80)


def blobs(seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(3), BLOB_SIZES)
    n = truth.size
    cols = {
        f: np.exp(np.asarray(c)[truth] + rng.normal(0.0, 0.1, n)) for f, c in BLOB_CENTRES.items()
    }
    ids = [f"C{i:04d}" for i in rng.permutation(n)]  # ids unrelated to the groups
    return pl.DataFrame({"customer_id": ids, **cols}), truth


@pytest.fixture(scope="module")
def blob_fit():
    frame, truth = blobs()
    return frame, truth, KMeansSegmenter().fit(frame)


# ------------------------------------------------------------------------------------------------ silhouette
def test_silhouette_scores_equal_scikit_learn():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.normal(0, 1, (60, 4)), rng.normal(3, 1, (50, 4))])
    labelings = [rng.integers(0, 2, 110), (X[:, 0] > 1.5).astype(int), rng.integers(0, 5, 110)]
    labelings[2][:3] = [4, 4, 3]
    for (mean, per), labels in zip(silhouette_scores(X, labelings, chunk_bytes=4096), labelings, strict=True):
        npt.assert_allclose(mean, silhouette_score(X, labels), rtol=1e-10)
        samples = silhouette_samples(X, labels)
        npt.assert_allclose(per, [samples[labels == c].mean() for c in range(labels.max() + 1)], rtol=1e-10)


def test_relabelled_distance_sums_equal_a_full_pass():
    # The final fit's silhouette updates the chosen sample fit's sums for the points that moved: the same sums as
    # a full pass (cluster_distance_sums), and so scikit-learn's silhouette of the new labels.
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(0, 1, (70, 3)), rng.normal(4, 1, (60, 3))])
    old = (X[:, 0] > 2).astype(np.int64) + 2 * (X[:, 1] > 0)
    (before,) = cluster_distance_sums(X, [old], chunk_bytes=4096)
    for moved in (0, 1, 9, 100):  # nothing, one point, a few, most points (a full pass then)
        new = old.copy()
        idx = rng.choice(X.shape[0], moved, replace=False)
        new[idx] = (new[idx] + 1) % 4
        got = relabelled_distance_sums(X, before, old, new)
        npt.assert_allclose(got, cluster_distance_sums(X, [new])[0], rtol=1e-10, atol=1e-9)
        mean, per = silhouette_scores(X, [new])[0]
        npt.assert_allclose(mean, silhouette_score(X, new), rtol=1e-10)


def _skewed_customers(seed: int, n: int) -> pl.DataFrame:
    """n customers with skewed RFM-like features and no clear clusters (a sampled fit moves a few points)."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "customer_id": [f"C{i:04d}" for i in range(n)],
        "recency_days": rng.gamma(2.0, 40.0, n), "frequency": rng.poisson(3.0, n) + 1.0,
        "monetary": rng.gamma(2.0, 300.0, n), "tenure_days": rng.uniform(30, 900, n),
    })


def test_a_sampled_fit_scores_its_final_labels_on_the_sample():
    # Above sample_size the final Lloyd run on everyone relabels a few sample points; the reported silhouettes are
    # scikit-learn's of the final labels restricted to the sample.
    frame = _skewed_customers(seed=11, n=400)
    n = frame.height
    model = KMeansSegmenter(sample_size=150).fit(frame)
    assert model.sampled_
    used = list(model.features_used_)
    data = frame.sort("customer_id")
    X = model.scaler_.transform(model._raw_to_log(data.select(used).to_numpy()))
    idx = np.sort(np.random.default_rng(model.seed).choice(n, 150, replace=False))
    labels = model.kmeans_.labels_[idx]
    npt.assert_allclose(model.silhouette_score_, silhouette_score(X[idx], labels), rtol=1e-9)


def test_a_fixed_k_after_an_automatic_fit_of_the_same_sample_reuses_its_distance_sums(monkeypatch):
    import crm_core.models.segments as segments

    frame = _skewed_customers(seed=5, n=400)
    segments._kept_sums.clear()
    alone = KMeansSegmenter(k=4, sample_size=150).fit(frame)  # nothing kept: a full pass
    KMeansSegmenter(sample_size=150).fit(frame)  # automatic: keeps every candidate's sums
    monkeypatch.setattr(segments, "cluster_distance_sums", lambda *a, **k: pytest.fail("a full pass again"))
    reused = KMeansSegmenter(k=4, sample_size=150).fit(frame)
    npt.assert_allclose(reused.silhouette_score_, alone.silhouette_score_, rtol=1e-10)
    npt.assert_allclose(reused.profile_["silhouette"].to_numpy(), alone.profile_["silhouette"].to_numpy(),
                        rtol=1e-10)
    assert reused.labels_.equals(alone.labels_)
    with pytest.raises(pytest.fail.Exception):  # another sample (other rows): nothing to reuse
        KMeansSegmenter(k=4, sample_size=150).fit(frame.head(380))


def test_silhouette_singleton_cluster_is_zero_and_one_cluster_is_undefined():
    X = np.array([[0.0], [0.1], [0.2], [5.0]])
    (mean, per), (one, _) = silhouette_scores(X, [np.array([0, 0, 0, 1]), np.zeros(4, dtype=int)])
    assert per[1] == 0.0  # Rousseeuw (1987): s(i) = 0 for a singleton
    npt.assert_allclose(mean, silhouette_score(X, [0, 0, 0, 1]), rtol=1e-12)
    assert np.isnan(one)


# ------------------------------------------------------------------------------------------------ recovery
def test_blobs_recovered_exactly(blob_fit):
    frame, truth, model = blob_fit
    assert model.k_ == 3
    assert max(model.silhouette_, key=model.silhouette_.get) == 3
    assert set(model.silhouette_) == set(range(2, 9))
    got = frame.join(model.labels_, on="customer_id", how="left")["segment_id"].to_numpy()
    assert adjusted_rand_score(truth, got) == 1.0  # scikit-learn as the second opinion
    # ordered by value: the group with the most revenue is segment 1, the dormant group segment 3
    npt.assert_array_equal(got, truth + 1)
    assert model.profile_["segment"].to_list() == ["Champions", "Steady", "Dormant"]
    assert model.labels_.columns == ["customer_id", "segment_id", "segment"]


def test_profile_and_centres_in_original_units(blob_fit):
    frame, truth, model = blob_fit
    prof = model.profile_
    assert prof["customers"].to_list() == list(BLOB_SIZES)
    npt.assert_allclose(prof["customer_share"].to_numpy(), np.array(BLOB_SIZES) / sum(BLOB_SIZES))
    revenue = [frame["monetary"].to_numpy()[truth == g].sum() for g in range(3)]
    npt.assert_allclose(prof["revenue"].to_numpy(), revenue)
    npt.assert_allclose(prof["revenue_share"].sum(), 1.0)
    for f in BLOB_CENTRES:
        npt.assert_allclose(prof[f"mean_{f}"].to_numpy(), [frame[f].to_numpy()[truth == g].mean() for g in range(3)])
        # a centre is the back-transformed mean of log1p values, close to exp(log-centre) for tight groups
        npt.assert_allclose(model.centers_[f].to_numpy(), np.exp(BLOB_CENTRES[f]), rtol=0.05)
    assert (prof["silhouette"].to_numpy() > 0.7).all()
    assert prof["action"].str.len_chars().min() > 0
    assert prof["main_channel"].null_count() == 3  # no channel shares in this fit
    s = model.summary
    assert s["k"] == 3 and s["customers"] == sum(BLOB_SIZES) and s["features"] == list(BLOB_CENTRES)
    assert s["segments"] == {"Champions": 120, "Steady": 200, "Dormant": 80}


def test_predict_gives_the_fitted_labels(blob_fit):
    frame, _, model = blob_fit
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    pred = model.predict(shuffled)
    assert pred["customer_id"].to_list() == shuffled["customer_id"].to_list()
    assert pred.sort("customer_id").equals(model.labels_)


# ------------------------------------------------------------------------------------------------ stability
def test_shuffled_rows_give_identical_labels_and_names():
    frame, _ = blobs(seed=5)
    noisy = frame.with_columns(pl.col("monetary") * np.exp(np.random.default_rng(2).normal(0, 0.8, frame.height)))
    a = KMeansSegmenter().fit(noisy)
    b = KMeansSegmenter().fit(noisy.sample(fraction=1.0, shuffle=True, seed=11))
    assert a.labels_.equals(b.labels_)
    assert a.profile_.equals(b.profile_)
    assert a.silhouette_ == b.silhouette_


def test_sampled_fit_is_deterministic_and_labels_everyone():
    frame, truth = blobs(seed=8)
    a = KMeansSegmenter(sample_size=150).fit(frame)
    b = KMeansSegmenter(sample_size=150).fit(frame.reverse())
    assert a.sampled_ and a.summary["sample_size"] == 150
    assert a.labels_.equals(b.labels_)
    assert a.labels_.height == frame.height
    got = frame.join(a.labels_, on="customer_id", how="left")["segment_id"].to_numpy()
    assert adjusted_rand_score(truth, got) == 1.0


def test_forced_k():
    frame, _ = blobs()
    model = KMeansSegmenter(k=5).fit(frame)
    assert model.k_ == 5 and list(model.silhouette_) == [5]
    assert model.labels_["segment_id"].n_unique() == 5
    assert model.profile_["segment_id"].to_list() == [1, 2, 3, 4, 5]
    assert model.profile_["segment"].n_unique() == 5
    assert model.profile_["customers"].sum() == frame.height


def test_forced_k_above_distinct_profiles_is_lowered_with_a_warning():
    frame = pl.DataFrame({"customer_id": list("abcdef"), "monetary": [1.0, 1.0, 50.0, 50.0, 900.0, 900.0]})
    with pytest.warns(UserWarning, match="only 3 distinct profiles"):
        model = KMeansSegmenter(k=5).fit(frame)
    assert model.k_ == 3 and model.notes_


# ------------------------------------------------------------------------------------------------ invariants
@st.composite
def customer_frames(draw):
    n = draw(st.integers(min_value=3, max_value=40))
    cols = draw(st.lists(st.sampled_from(FEATURES), min_size=1, max_size=4, unique=True))
    values = st.floats(min_value=-50.0, max_value=1e6, allow_nan=False, allow_infinity=False)
    data = {c: draw(st.lists(values, min_size=n, max_size=n)) for c in cols}
    return pl.DataFrame({"customer_id": [f"c{i}" for i in range(n)], **data})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=customer_frames(), k=st.one_of(st.just("auto"), st.integers(min_value=1, max_value=3)))
def test_random_frames_never_crash_sizes_sum_names_unique(frame, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = KMeansSegmenter(k=k, k_range=(2, 4), n_init=2).fit(frame)
    prof = model.profile_
    assert prof["customers"].sum() == frame.height == model.n_customers_
    assert 0.0 <= prof["customer_share"].min() and prof["customer_share"].max() <= 1.0
    npt.assert_allclose(prof["customer_share"].sum(), 1.0)
    assert prof["segment"].n_unique() == prof.height == model.k_
    assert model.labels_.height == frame.height
    assert set(model.labels_["segment"].unique()) <= set(prof["segment"])
    if k != "auto":
        assert model.k_ <= k


# ------------------------------------------------------------------------------------------------ boundary
def test_fewer_than_two_customers_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 2 distinct customers"):
        KMeansSegmenter().fit(pl.DataFrame({"customer_id": ["a"], "monetary": [10.0]}))
    with pytest.raises(ValueError, match="at least 2 distinct customers.*missing values"):
        KMeansSegmenter().fit(pl.DataFrame({"customer_id": ["a", "b"], "monetary": [10.0, None]}))


def test_bad_frames_are_clear_errors():
    with pytest.raises(ValueError, match="customer_id"):
        KMeansSegmenter().fit(pl.DataFrame({"id": ["a", "b"], "monetary": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="unique"):
        KMeansSegmenter().fit(pl.DataFrame({"customer_id": ["a", "a", "b"], "monetary": [1.0, 2.0, 3.0]}))
    with pytest.raises(ValueError, match="None of the feature columns"):
        KMeansSegmenter().fit(pl.DataFrame({"customer_id": ["a", "b"], "name": ["x", "y"]}))
    with pytest.raises(ValueError, match="k must be"):
        KMeansSegmenter(k=0).fit(pl.DataFrame({"customer_id": ["a", "b"], "monetary": [1.0, 2.0]}))
    with pytest.raises(RuntimeError, match="not fitted"):
        KMeansSegmenter().predict(pl.DataFrame({"customer_id": ["a"]}))


def test_missing_and_empty_feature_columns_are_skipped():
    frame, truth = blobs()
    frame = frame.drop("tenure_days").with_columns(clv=pl.lit(None, dtype=pl.Float64), note=pl.lit("x"))
    model = KMeansSegmenter().fit(frame)
    assert model.features_used_ == ("recency_days", "frequency", "monetary")
    got = frame.join(model.labels_, on="customer_id", how="left")["segment_id"].to_numpy()
    assert adjusted_rand_score(truth, got) == 1.0


def test_rows_with_missing_values_are_skipped_and_predicted_null():
    frame, _ = blobs()
    frame = frame.with_columns(
        pl.when(pl.col("customer_id") == "C0000").then(None).otherwise(pl.col("monetary")).alias("monetary")
    )
    model = KMeansSegmenter().fit(frame)
    assert model.n_skipped_ == 1 and model.n_customers_ == frame.height - 1
    assert "C0000" not in model.labels_["customer_id"].to_list()
    pred = model.predict(frame).filter(pl.col("customer_id") == "C0000")
    assert pred["segment_id"][0] is None and pred["segment"][0] is None


def test_negative_clv_is_clipped_at_zero():
    frame, _ = blobs()
    frame = frame.with_columns(clv=pl.col("monetary") - 500.0)  # negative for the low groups
    model = KMeansSegmenter().fit(frame)
    low = frame.filter(pl.col("clv") < 0).head(2)
    zeroed = low.with_columns(clv=pl.lit(0.0))
    assert model.predict(low).equals(model.predict(zeroed))
    assert np.isfinite(model.centers_["clv"].to_numpy()).all() and model.centers_["clv"].min() >= 0.0


def test_naming_rules_are_data_and_names_are_unique():
    rules = load_naming_rules()
    assert rules[0]["name"] == "Champions" and not rules[-1]["when"]
    frame, _ = blobs()
    only_steady = {"rules": [{"name": "Everyone", "when": {}, "action": "say hello"}]}
    model = KMeansSegmenter(rules=only_steady).fit(frame)
    assert model.profile_["segment"].to_list() == ["Everyone", "Everyone 2", "Everyone 3"]
    with pytest.raises(ValueError, match="last segment naming rule"):
        load_naming_rules({"rules": [{"name": "A", "when": {"monetary": {"min": 0}}}]})


# ------------------------------------------------------------------------------------------------ channel mix
def _tiny_store() -> tuple[Store, int]:
    store = Store(":memory:")
    t = datetime(2024, 1, 1)
    tx = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b", "c", "c", "d"],
            "occurred_at": [t.replace(day=d) for d in (1, 2, 3, 4, 1, 2, 1, 20, 5)],
            "amount": [10.0, 20.0, 30.0, 40.0, 5.0, 5.0, 8.0, 8.0, 100.0],
            "channel": ["Web", "Web", "Store", "Web Shop", "Phone", None, "Web", "Web", "Store"],
            "status": ["completed", "completed", "completed", "completed", "completed", "completed",
                       "completed", "completed", "refunded"],
        }
    )
    result = store.load("tiny", [TableLoad("transactions", tx, file_name="tx.csv")])
    return store, result.dataset_id


def test_channel_mix_equals_hand_computed_shares():
    store, ds = _tiny_store()
    mix = channel_mix(store, Scope(ds))
    # a: Web 2, Store 1, "Web Shop" 1 of 4; b: Phone 1, missing 1 of 2; c: Web 2 of 2; d: only a refund -> no row
    assert mix.columns == ["customer_id", "share_phone", "share_store", "share_unknown", "share_web",
                           "share_web_shop"]
    assert mix["customer_id"].to_list() == ["a", "b", "c"]
    expected = np.array([
        [0.0, 0.25, 0.0, 0.5, 0.25],
        [0.5, 0.0, 0.5, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.0],
    ])
    npt.assert_allclose(mix.drop("customer_id").to_numpy(), expected)
    npt.assert_allclose(mix.drop("customer_id").sum_horizontal().to_numpy(), 1.0)


def test_channel_mix_respects_window_and_revenue_weight():
    store, ds = _tiny_store()
    windowed = channel_mix(store, Scope(ds, start=datetime(2024, 1, 2).date(), end=datetime(2024, 1, 10).date()))
    # a: Web 1 (day 2), Store 1, Web Shop 1; b: missing 1; c: nothing in the window
    assert windowed["customer_id"].to_list() == ["a", "b"]
    npt.assert_allclose(windowed.filter(pl.col("customer_id") == "a")["share_web"].to_numpy(), [1 / 3])
    by_revenue = channel_mix(store, Scope(ds), weight="revenue")
    a = by_revenue.filter(pl.col("customer_id") == "a")
    npt.assert_allclose(a.select("share_web", "share_store", "share_web_shop").row(0), (0.3, 0.3, 0.4))
    with pytest.raises(ValueError, match="weight"):
        channel_mix(store, Scope(ds), weight="margin")


def test_channel_mix_merges_names_that_normalise_alike():
    store = Store(":memory:")
    t = datetime(2024, 1, 1)
    tx = pl.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b"],
        "occurred_at": [t.replace(day=d) for d in (1, 2, 3, 4, 1, 2)],
        "amount": [10.0, 20.0, 30.0, 40.0, 0.0, 0.0],
        # "Web Shop", "web-shop" and " WEB shop " are one channel; "--" normalises to nothing: unknown, as None
        "channel": ["Web Shop", "web-shop", " WEB shop ", "--", None, "Store"],
        "status": ["completed"] * 6,
    })
    ds = store.load("alike", [TableLoad("transactions", tx, file_name="tx.csv")]).dataset_id
    mix = channel_mix(store, Scope(ds))
    assert mix.columns == ["customer_id", "share_store", "share_unknown", "share_web_shop"]
    npt.assert_allclose(mix.drop("customer_id").to_numpy(), [[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]])
    by_revenue = channel_mix(store, Scope(ds), weight="revenue")
    npt.assert_allclose(by_revenue.row(0)[1:], (0.0, 0.4, 0.6))
    assert by_revenue.row(1)[1:] == (None, None, None)  # b's amounts sum to 0: no share is defined


@pytest.mark.parametrize("weight", ["orders", "revenue"])
def test_channel_mix_equals_the_long_form_on_the_sample_company(weight):
    from dataclasses import replace

    from crm_core.metrics.facts import default_scope
    from crm_core.models.segments import _channel_mix_long

    with Store(":memory:") as store:
        ds = store.load_sample(customers=400).dataset_id
        whole = default_scope(store, ds)
        region = store.query("SELECT min(region) AS r FROM customers")["r"][0]
        channel = store.query("SELECT min(channel) AS c FROM purchases")["c"][0]
        for scope in (whole, whole.with_window(whole.end.replace(day=1), whole.end),
                      replace(whole, regions=(region,)), replace(whole, channels=(channel,))):
            wide, long = channel_mix(store, scope, weight=weight), _channel_mix_long(store, scope, weight)
            assert wide.columns == long.columns and wide.height > 0
            assert wide["customer_id"].equals(long["customer_id"])
            npt.assert_allclose(wide.drop("customer_id").to_numpy(), long.drop("customer_id").to_numpy(),
                                rtol=1e-12)


def test_channel_mix_feeds_the_segmenter():
    store, ds = _tiny_store()
    mix = channel_mix(store, Scope(ds))
    model = KMeansSegmenter(k=2).fit(mix)
    assert all(f.startswith("share_") for f in model.features_used_)
    assert model.profile_["customers"].sum() == 3
    # a (mostly web) and c (all web) against b (phone / unknown)
    assert sorted(model.profile_["main_channel"].to_list()) == ["phone", "web"]


# ------------------------------------------------------------------------------------------------ integration
def test_fit_on_sample_company_facts():
    with Store(":memory:") as store:
        ds = store.load_sample(customers=600).dataset_id
        facts = store.table("customer_facts", ds).filter(pl.col("last_purchase").is_not_null())
        asof = facts["last_purchase"].max()
        frame = facts.select(
            "customer_id",
            ((asof - pl.col("last_purchase")).dt.total_seconds() / 86400.0).alias("recency_days"),
            ((asof - pl.col("first_purchase")).dt.total_seconds() / 86400.0).alias("tenure_days"),
            pl.col("purchases").alias("frequency"),
            pl.col("revenue").alias("monetary"),
        ).join(channel_mix(store, Scope(ds)), on="customer_id", how="left")
        model = KMeansSegmenter().fit(frame)
    assert 2 <= model.k_ <= 8
    assert model.features_used_[:4] == ("recency_days", "frequency", "monetary", "tenure_days")
    assert "clv" not in model.features_used_ and "cost_to_serve" not in model.features_used_
    assert model.profile_["customers"].sum() == frame.height
    assert model.profile_["segment"].n_unique() == model.k_
    assert model.profile_["segment"].str.len_chars().min() > 0
    # segment 1 is the most valuable by revenue per customer among the segments
    per_customer = (model.profile_["revenue"] / model.profile_["customers"]).to_numpy()
    assert per_customer[0] == per_customer.max()


def test_alike_clusters_are_named_by_their_typical_channel():
    from crm_core.models.segments import _name_clusters, load_naming_rules

    rules = load_naming_rules(None)
    features = ["recency_days", "frequency", "monetary", "share_online", "share_store"]
    # two clusters with the same value profile (the same rule matches both), one mostly online, one in store;
    # a third identical to the second, which only a number can tell apart
    centres = np.array([
        [-1.0, 1.5, 1.5, 1.2, -1.2],
        [-1.0, 1.5, 1.5, -1.2, 1.2],
        [-1.0, 1.5, 1.5, -1.2, 1.2],
    ])
    names, _ = _name_clusters(centres, features, rules)
    assert names[0].endswith(" · Online") and names[1].endswith(" · Store")
    assert names[2] == names[1] + " 2"
    assert len(set(names)) == 3


def test_profiles_closer_than_k_means_can_separate_are_one_segment():
    # found by hypothesis: recency 0, 0 and 1.6e-179 are distinct floats but one point to k-means
    frame = pl.DataFrame({"customer_id": ["c0", "c1", "c2"], "recency_days": [0.0, 0.0, 1.6309e-179]})
    with pytest.warns(UserWarning, match="same profile"):
        model = KMeansSegmenter().fit(frame)
    assert model.k_ == 1 and model.profile_["customers"].sum() == 3


def test_scikit_learn_is_imported_only_to_fit():
    # A region's customers are shown in the kept segments of all customers (crm_core.views): that path must not
    # pay scikit-learn's import (~1.7 s), so the segments module imports it inside the fit only.
    import subprocess
    import sys

    code = ("import sys, crm_core.views, crm_core.metrics.differentiate, crm_core.models.segments; "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
