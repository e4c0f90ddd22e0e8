"""Customer portfolio analysis: the first stage of the CRM value chain (Buttle & Maklan, *Customer
Relationship Management*, ch. 2: "customer portfolio analysis").

Pure functions over a per-customer Polars frame, one row per customer (the caller builds it from the
windowed customer facts), with columns such as ``customer_id``, ``revenue``, ``margin`` (may be null),
``cost_to_serve``, ``net_profit``, ``recency_days`` and ``purchases``. Nothing here reads the store, and
nothing loops over customers in Python: every step is a vectorised Polars expression or a NumPy call, so a
million customers take well under a second per function.

What is measured
----------------
- **Concentration** — :func:`pareto` (the cumulative "Pareto" / concentration curve, the share of customers
  that makes 80 % of the value, top-10 % and top-20 % shares) and :func:`gini` (Gini coefficient).
- **ABC classes** — :func:`abc_classes`, :func:`abc_summary` (A = the customers making the first 80 % of
  value, B = up to 95 %, C = the rest).
- **RFM** — :func:`rfm_scores` (quintile scores 1..5), :func:`rfm_segments` (eleven named segments from the
  rules file ``rfm_segments.yaml``), :func:`rfm_summary`.
- **Value × cost to serve** — :func:`cost_quadrants`, :func:`quadrant_summary` (Shapiro et al. 1987).
- :func:`portfolio_summary` — the headline figures of the portfolio page.

References
----------
[1] Lorenz, M. O. (1905). Methods of measuring the concentration of wealth. Publications of the American
    Statistical Association 9(70), 209-219.
[2] Dorfman, R. (1979). A formula for the Gini coefficient. The Review of Economics and Statistics 61(1),
    146-149 — G = 1 - (1/μ)∫(1 - F(y))² dy, which for a sample of n sorted values x_(1) <= ... <= x_(n) is
    G = Σ_i (2i - n - 1) x_(i) / (n Σ_i x_i), the same as the mean-absolute-difference form
    G = Σ_i Σ_j |x_i - x_j| / (2 n² μ).
[3] Putler, "RFM Analysis For Customer Segmentation"; Kabasakal, I. (2020), Bilişim Teknolojileri Dergisi
    13(1) — the eleven RFM segment names (see ``rfm_segments.yaml`` for the exact grid and its sources).
[4] Shapiro, B. P., Rangan, V. K., Moriarty, R. T. & Ross, E. B. (1987). Manage customers for profits (not
    just sales). Harvard Business Review 65(5), 101-108 — the net price × cost-to-serve matrix with the
    carriage trade, passive, bargain basement and aggressive customers.
[5] Hughes, A. M. (1994). *Strategic Database Marketing* — RFM quintile scoring (5 = best).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

__all__ = [
    "ABC_CLASSES",
    "QUADRANTS",
    "RFM_RULES",
    "ParetoCurve",
    "abc_classes",
    "abc_summary",
    "cost_quadrants",
    "gini",
    "pareto",
    "portfolio_summary",
    "quadrant_summary",
    "rfm_excluded",
    "rfm_grid",
    "rfm_scores",
    "rfm_segments",
    "rfm_summary",
]

ID = "customer_id"
ABC_CLASSES: tuple[str, ...] = ("A", "B", "C")

#: RFM segment rules (names, R and FM ranges, descriptions): data, not code (DESIGN.md §10).
RFM_RULES: dict = yaml.safe_load(Path(__file__).with_name("rfm_segments.yaml").read_text(encoding="utf-8"))

#: The four customer types of the net price × cost-to-serve matrix, after Shapiro et al. (1987) [4],
#: in display order. ``value`` / ``cost`` say on which side of the split the customer lies.
QUADRANTS: dict[str, dict[str, str]] = {
    "Carriage trade": {
        "value": "high",
        "cost": "high",
        "description": "Costly to serve but pay well for it (customised products, service, attention).",
    },
    "Passive": {
        "value": "high",
        "cost": "low",
        "description": "Pay well and are cheap to serve: the most profitable; protect them.",
    },
    "Aggressive": {
        "value": "low",
        "cost": "high",
        "description": "Demand the best service at the lowest price (often powerful buyers): profit drain.",
    },
    "Bargain basement": {
        "value": "low",
        "cost": "low",
        "description": "Price-sensitive, need little service: serve them cheaply.",
    },
}

ValuesLike = pl.Series | pl.DataFrame | Sequence[float] | np.ndarray


# --------------------------------------------------------------------------------------------------
# boundary checks (pymc-marketing ``_validate_cols`` style, DESIGN.md §10)
# --------------------------------------------------------------------------------------------------
def _validate_cols(
    data: pl.DataFrame, required_cols: Sequence[str], must_be_unique: Sequence[str] = ()
) -> None:
    """Raise ``ValueError`` when a required column is missing or a key column has duplicates."""
    missing = [c for c in required_cols if c not in data.columns]
    if missing:
        raise ValueError(f"Required column(s) missing: {', '.join(missing)} (have: {', '.join(data.columns)}).")
    for col in must_be_unique:
        if _has_duplicates(data.get_column(col)):
            raise ValueError(f"Column {col!r} has duplicate values; expected one row per customer.")


def _has_duplicates(values: pl.Series) -> bool:
    """Whether a key column repeats a value (two nulls count as a repeat, as ``n_unique`` counts them). Customer
    facts come sorted by customer_id, and in a sorted column only neighbours can be equal: comparing them costs
    ~0.01 s at a million ids where hashing every id (``n_unique``) cost ~0.04 s, 18 times in a Portfolio view
    (0.69 of its 1.9 s). Other columns are hashed."""
    n = values.len()
    if n < 2:
        return False
    if values.is_sorted():  # nulls first, then ascending: equal values are neighbours
        return bool(values.slice(1).eq_missing(values.slice(0, n - 1)).any())
    return values.n_unique() != n


def _values(
    values: ValuesLike, column: str | None, id_column: str, *, validate: bool = True
) -> tuple[pl.DataFrame, int]:
    """Normalise the input to a frame (``id_column``, ``value`` Float64) without nulls/NaN.

    A Series or array gets its row position as the customer id. Returns the frame and how many
    rows were left out because their value was missing (null or NaN).
    """
    if isinstance(values, pl.DataFrame):
        if column is None:
            raise ValueError("Pass the value column name when giving a frame.")
        _validate_cols(values, [id_column, column], must_be_unique=[id_column] if validate else ())
        frame = values.select(pl.col(id_column), pl.col(column).cast(pl.Float64).alias("value"))
    else:
        series = values if isinstance(values, pl.Series) else pl.Series(np.asarray(values, dtype=float))
        frame = pl.DataFrame(
            {id_column: pl.int_range(0, series.len(), eager=True), "value": series.cast(pl.Float64)}
        )
    kept = frame.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
    return kept, frame.height - kept.height


# --------------------------------------------------------------------------------------------------
# concentration: Pareto curve and Gini
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)  # eq=False: frames do not compare to a single bool
class ParetoCurve:
    """Customers ranked by value, largest first, with cumulative shares (the concentration curve).

    Attributes
    ----------
    curve : pl.DataFrame
        One row per customer: ``rank`` (1 = largest value), ``customer_id``, ``value``,
        ``cum_value`` (cumulative value), ``customer_share`` = rank / n and ``value_share`` =
        cumulative value / total value. Ties in value keep their input order (stable sort; the
        cumulative share at the end of a tie does not depend on it).
        ``value_share`` is null when the total is not positive (``defined`` is False).
    n : int
        Customers on the curve (missing values left out).
    total : float
        Sum of the values.
    missing : int
        Customers left out because their value was null or NaN (e.g. margin unknown).
    negatives : int
        Customers with a negative value. With negatives (margin, profit) the curve is a *whale curve*:
        ``value_share`` rises above 1 at the last profitable customer and falls back to exactly 1.0 at
        the end; top shares can then exceed 1.
    defined : bool
        False when ``total <= 0``: shares of a non-positive total mean nothing, so every share is None.
    target : float
        The value share used for :attr:`pareto_point` (0.8, the "80/20" rule).
    pareto_point : float or None
        Share of customers making ``target`` of the value: k / n for the *first* rank k whose
        cumulative share reaches ``target`` (no interpolation) — the same customers as class A of
        :func:`abc_classes` when no values are tied. None when not ``defined``.
    """

    curve: pl.DataFrame
    n: int
    total: float
    missing: int
    negatives: int
    defined: bool
    target: float
    pareto_point: float | None

    def top_share(self, q: float) -> float | None:
        """Share of the value made by the top ``q`` (0..1) of customers.

        Read off the concentration curve by linear interpolation between its points (0, 0) and
        (k/n, S_k/total) — the Lorenz-curve convention [1] — so that it is exact whenever q·n is
        a whole number (top 20 % of 10 customers = the top 2) and continuous otherwise.
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must lie in [0, 1], got {q}")
        if not self.defined or self.n == 0:
            return None
        pos = q * self.n
        lo = math.floor(pos)
        if lo >= self.n:
            return 1.0
        shares = self.curve.get_column("value_share")
        s_lo = 0.0 if lo == 0 else float(shares[lo - 1])
        s_hi = float(shares[lo])
        return s_lo + (pos - lo) * (s_hi - s_lo)

    def customers_for(self, share: float) -> float | None:
        """Share of customers (first rank k / n) whose cumulative value first reaches ``share``."""
        return _first_reach(self.curve, share) if self.defined else None


def _first_reach(curve: pl.DataFrame, share: float) -> float | None:
    """k / n for the first rank k whose cumulative value share is at least ``share`` (None if none)."""
    if curve.height == 0:
        return None
    reached = curve.get_column("value_share") >= share
    if not reached.any():  # share > 1 and no whale hump that high
        return None
    return (int(reached.arg_max()) + 1) / curve.height


def pareto(
    values: ValuesLike, column: str | None = None, *, target: float = 0.8, id_column: str = ID
) -> ParetoCurve:
    """Concentration (Pareto) curve of ``values`` over customers.

    Parameters
    ----------
    values
        A frame (with ``column`` and ``id_column``), a Series or an array of per-customer values.
    column
        Value column when ``values`` is a frame (e.g. ``"revenue"``, ``"margin"``).
    target
        Value share for the Pareto point (default 0.8).
    id_column
        Customer key (must be unique).

    Returns
    -------
    ParetoCurve
        Never raises on zeros, negatives or an empty input; shares are None when the total is not
        positive.

    Raises
    ------
    ValueError
        If the frame lacks ``column`` or ``id_column``, or a customer id appears twice.
    """
    return _pareto(*_values(values, column, id_column), target=target, id_column=id_column)


def _pareto(frame: pl.DataFrame, missing: int, *, target: float, id_column: str) -> ParetoCurve:
    """:func:`pareto` on an already checked (``id_column``, ``value``) frame without missing values."""
    # stable sort on the value only (a tie-break on a string id costs 3x the time at 1M customers)
    ranked = frame.sort("value", descending=True, maintain_order=True)
    n = ranked.height
    cum = ranked.get_column("value").cum_sum()
    # total = last cumulative sum (not a separate sum()), so the curve ends at exactly 1.0
    total = float(cum[-1]) if n else 0.0
    defined = total > 0.0
    position = np.arange(1, n + 1, dtype=np.int64)
    # shares by NumPy true division: Polars divides a column by a scalar through its reciprocal, which
    # leaves x / x = 0.9999999999999999 for some x; the curve must end at exactly 1.0
    curve = ranked.with_columns(
        rank=pl.Series(position),
        cum_value=cum,
        customer_share=pl.Series(position / n if n else position.astype(np.float64)),
        value_share=pl.Series(cum.to_numpy() / total) if defined else pl.lit(None, pl.Float64),
    ).select("rank", id_column, "value", "cum_value", "customer_share", "value_share")
    return ParetoCurve(
        curve=curve,
        n=n,
        total=total,
        missing=missing,
        negatives=int((ranked.get_column("value") < 0).sum()),
        defined=defined,
        target=target,
        pareto_point=_first_reach(curve, target) if defined else None,
    )


def gini(values: ValuesLike, column: str | None = None) -> float | None:
    """Gini coefficient of concentration of non-negative values.

    G = Σ_i (2i - n - 1) x_(i) / (n Σ_i x_i) over the values sorted ascending, i = 1..n (Dorfman
    1979 [2]; twice the area between the line of equality and the Lorenz curve [1]). 0 = every
    customer is worth the same; the maximum for n customers is (n - 1)/n < 1 (one customer has it all).

    Parameters
    ----------
    values
        A frame (with ``column``), a Series or an array. Nulls and NaN are left out.
    column
        Value column when ``values`` is a frame.

    Returns
    -------
    float or None
        None for no customers or a zero total (concentration of nothing is undefined).

    Raises
    ------
    ValueError
        If any value is negative: the Gini coefficient is only bounded for non-negative values
        (use :func:`pareto`, which handles a whale curve, for margins and profits).
    """
    if isinstance(values, pl.DataFrame):
        if column is None:
            raise ValueError("Pass the value column name when giving a frame.")
        _validate_cols(values, [column])
        series = values.get_column(column)
    else:
        series = values if isinstance(values, pl.Series) else pl.Series(np.asarray(values, dtype=float))
    x = series.cast(pl.Float64).drop_nulls().drop_nans().sort(descending=True).to_numpy()
    return _gini_sorted_desc(x)


def _gini_sorted_desc(x: np.ndarray) -> float | None:
    """Gini of values already sorted in *descending* order (no nulls)."""
    n = x.size
    if n == 0:
        return None
    if x[-1] < 0:
        raise ValueError("gini() needs non-negative values; found a negative one.")
    total = x.sum()
    if total == 0:
        return None
    # Dorfman (1979) [2]: G = Σ_i (2i - n - 1) x_(i) / (n Σ x) with i the ascending position; for the
    # descending position k, i = n + 1 - k, so the weight is 2(n + 1 - k) - n - 1 = n + 1 - 2k
    k = np.arange(1, n + 1, dtype=np.float64)
    g = float(np.dot(n + 1.0 - 2.0 * k, x) / (n * total))
    return min(max(g, 0.0), (n - 1) / n)  # clip float rounding into the exact range [0, (n-1)/n]


# --------------------------------------------------------------------------------------------------
# ABC classes
# --------------------------------------------------------------------------------------------------
def abc_classes(
    values: ValuesLike,
    column: str | None = "revenue",
    *,
    a: float = 0.8,
    b: float = 0.95,
    id_column: str = ID,
    curve: ParetoCurve | None = None,
) -> pl.DataFrame:
    """ABC classification of customers by value (Pareto / inventory-style ABC analysis).

    Customers are ranked by value, largest first. Let S_before be the cumulative share of value of
    the customers ranked above one customer. The customer is

    - **A** if S_before < ``a`` — the customers making the first ``a`` (80 %) of value; the customer
      whose value *crosses* ``a`` is in A;
    - **B** if ``a`` <= S_before < ``b`` — up to ``b`` (95 %), the crossing customer included;
    - **C** otherwise (the tail, including every zero-value customer when ``b`` < 1).

    Customers with the same value always share a class: a tie group takes the class of its first
    member (so at a border the whole tie goes to the better class). With negative values (margin)
    cumulative shares rise above 1 before falling back, so customers after the peak are C. When the
    total is not positive, ``cum_share`` and ``abc`` are null.

    Parameters
    ----------
    values
        A frame with ``id_column`` and ``column``, a Series or an array.
    column
        Value column of a frame (default ``"revenue"``); ignored for a Series.
    a, b
        Class thresholds, 0 < a < b <= 1.
    id_column
        Customer key.
    curve
        ``pareto(values, column, target=a)`` when the caller has it already (one sort fewer).

    Returns
    -------
    pl.DataFrame
        ``customer_id``, ``value``, ``cum_share`` (cumulative share including this customer) and ``abc``
        (Enum A/B/C), ordered by value descending; customers with a missing value are left out.
    """
    if not 0.0 < a < b <= 1.0:
        raise ValueError(f"Need 0 < a < b <= 1, got a={a}, b={b}")
    if curve is None:
        curve = pareto(values, column if isinstance(values, pl.DataFrame) else None, target=a, id_column=id_column)
    elif curve.target != a or curve.curve.height + curve.missing != len(values):
        raise ValueError("curve must be pareto(values, column, target=a) of these values")
    return _abc_from_curve(curve, a, b, id_column)


def _abc_from_curve(curve: ParetoCurve, a: float, b: float, id_column: str) -> pl.DataFrame:
    """:func:`abc_classes` from an already computed concentration curve."""
    abc = pl.Enum(ABC_CLASSES)
    frame = curve.curve.select(id_column, "value", "cum_value", pl.col("value_share").alias("cum_share"))
    if not curve.defined:
        return frame.with_columns(abc=pl.lit(None, abc)).drop("cum_value")
    # S_before = (cumulative value of the customers ranked above) / total, from the exact running sum
    before = frame.get_column("cum_value").shift(1).fill_null(0.0).to_numpy()
    start = pl.lit(pl.Series(before / curve.total))  # NumPy true division (see pareto)
    new_tie = pl.col("value") != pl.col("value").shift(1)  # rows are sorted: ties are contiguous
    # the share before the first member of each tie group, carried forward over the group
    start_group = pl.when(new_tie.fill_null(True)).then(start).otherwise(None).forward_fill()
    return frame.with_columns(
        abc=pl.when(start_group < a).then(pl.lit("A")).when(start_group < b).then(pl.lit("B"))
        .otherwise(pl.lit("C")).cast(abc)
    ).drop("cum_value")


def abc_summary(classes: pl.DataFrame) -> pl.DataFrame:
    """Count, share of customers, value and share of value per ABC class (always rows A, B, C).

    ``value_share`` is null when the total value is not positive; customers without a class (an
    undefined total, see :func:`abc_classes`) are not counted.
    """
    _validate_cols(classes, ["value", "abc"])
    n = classes.height
    total = float(classes.get_column("value").sum()) if n else 0.0
    agg = classes.group_by("abc").agg(customers=pl.len(), value=pl.col("value").sum())
    base = pl.DataFrame({"abc": pl.Series(ABC_CLASSES, dtype=pl.Enum(ABC_CLASSES))})
    out = base.join(agg, on="abc", how="left", maintain_order="left").with_columns(
        pl.col("customers").fill_null(0).cast(pl.Int64), pl.col("value").fill_null(0.0)
    )
    return out.with_columns(
        customer_share=(pl.col("customers") / n) if n else pl.lit(None, pl.Float64),
        value_share=(pl.col("value") / total) if total > 0 else pl.lit(None, pl.Float64),
    ).select("abc", "customers", "customer_share", "value", "value_share")


# --------------------------------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------------------------------
def _buyers(recency: str, frequency: str, monetary: str) -> pl.Expr:
    """Customers that can be scored: at least one purchase in the window, known recency and spend."""
    return (
        (pl.col(frequency).fill_null(0) > 0)
        & pl.col(recency).is_not_null()
        & pl.col(monetary).is_not_null()
    )


def rfm_excluded(
    frame: pl.DataFrame,
    recency: str = "recency_days",
    frequency: str = "purchases",
    monetary: str = "revenue",
) -> int:
    """Customers :func:`rfm_scores` leaves out (no purchase in the window, or no recency/spend)."""
    _validate_cols(frame, [recency, frequency, monetary])
    return int(frame.height - frame.select(_buyers(recency, frequency, monetary).sum()).item())


def _strictly_worse(values: pl.Series, *, higher_is_better: bool) -> np.ndarray:
    """For each customer, how many customers have a strictly worse value (``rank("min") - 1``).

    Small-range integer columns (days, purchase counts) use a cumulative histogram (``np.bincount``,
    O(n)); other columns use Polars' "min" rank (a sort).
    """
    n = values.len()
    if values.dtype.is_integer():
        x = values.to_numpy().astype(np.int64, copy=False)
        lo, hi = int(x.min()), int(x.max())
        if hi - lo <= 4 * n:
            counts = np.bincount(x - lo, minlength=hi - lo + 1)
            at_or_below = np.cumsum(counts)
            if higher_is_better:  # worse = smaller: customers strictly below
                return (at_or_below - counts)[x - lo]
            return n - at_or_below[x - lo]  # worse = larger (recency days): customers strictly above
    rank = values.rank("min", descending=not higher_is_better)
    return rank.cast(pl.Int64).to_numpy() - 1


def _quantile_score(values: pl.Series, bins: int, *, higher_is_better: bool) -> pl.Series:
    """Equal-count quantile score 1..bins from ranks: 1 + floor(bins · (rank_min - 1) / n).

    ``rank_min - 1`` is the number of customers strictly worse, so a customer's score is its
    percentile rank (share of customers strictly below it) cut into ``bins`` equal-width groups.
    Without ties and with n divisible by ``bins`` this is exactly ``pd.qcut(x.rank(method="first"),
    bins)``: n/bins customers per score. Tied customers share the score of the lowest position
    they occupy ("min" ranks) — deterministic and independent of row order; with heavy ties
    (e.g. most customers bought once) groups are unequal and scores can be skipped, where
    ``pd.qcut`` on raw values would fail with non-unique bin edges.
    """
    worse = _strictly_worse(values, higher_is_better=higher_is_better)
    return pl.Series(worse * bins // values.len() + 1, dtype=pl.Int8)


def rfm_scores(
    frame: pl.DataFrame,
    recency: str = "recency_days",
    frequency: str = "purchases",
    monetary: str = "revenue",
    bins: int = 5,
    *,
    id_column: str = ID,
) -> pl.DataFrame:
    """RFM quantile scores (Hughes 1994 [5]): ``r``, ``f``, ``m`` in 1..``bins``, higher = better.

    - **R**: recency in days since the last purchase; *fewer* days = more recent = higher score.
    - **F**: frequency (purchases in the window); more = higher.
    - **M**: monetary value (revenue in the window); more = higher.

    Each score is an equal-count quantile of its rank: score = 1 + floor(bins · (rank - 1) / n) with
    "min" ranks (ties share the score of the lowest position they hold), see :func:`_quantile_score`.

    Customers with no purchase in the window (``frequency`` 0 or null) or with a null recency or
    monetary value are left out; :func:`rfm_excluded` counts them.

    Returns
    -------
    pl.DataFrame
        The scored customers' rows (all input columns, input order) plus ``r``, ``f``, ``m`` (Int8).
    """
    _validate_cols(frame, [id_column, recency, frequency, monetary], must_be_unique=[id_column])
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    buyers = frame.filter(_buyers(recency, frequency, monetary))
    n = buyers.height
    if n == 0:
        return buyers.with_columns(r=pl.lit(None, pl.Int8), f=pl.lit(None, pl.Int8), m=pl.lit(None, pl.Int8))
    return buyers.with_columns(
        # recency: fewer days since the last purchase is better, so the oldest purchase scores 1
        r=_quantile_score(buyers.get_column(recency), bins, higher_is_better=False),
        f=_quantile_score(buyers.get_column(frequency), bins, higher_is_better=True),
        m=_quantile_score(buyers.get_column(monetary), bins, higher_is_better=True),
    )


def rfm_grid(rules: dict | None = None) -> pl.DataFrame:
    """The segment map as a frame: one row per (r, fm) cell with its ``segment``.

    Raises ``ValueError`` if a cell is covered by no segment or by more than one — the rules file must
    partition the score grid.
    """
    rules = RFM_RULES if rules is None else rules
    k = int(rules["scores"])
    cells: dict[tuple[int, int], list[str]] = {(r, fm): [] for r in range(1, k + 1) for fm in range(1, k + 1)}
    for seg in rules["segments"]:
        r_lo, r_hi = seg["r"]
        fm_lo, fm_hi = seg["fm"]
        for r in range(r_lo, r_hi + 1):  # at most 25 cells: rules, not customers
            for fm in range(fm_lo, fm_hi + 1):
                if (r, fm) not in cells:
                    raise ValueError(f"Segment {seg['name']!r} covers ({r}, {fm}), outside 1..{k}.")
                cells[(r, fm)].append(seg["name"])
    bad = {cell: names for cell, names in cells.items() if len(names) != 1}
    if bad:
        raise ValueError(f"RFM rules must cover every (R, FM) cell exactly once; problems: {bad}")
    names = [s["name"] for s in rules["segments"]]
    return pl.DataFrame(
        {
            "r": [c[0] for c in cells],
            "fm": [c[1] for c in cells],
            "segment": pl.Series([v[0] for v in cells.values()], dtype=pl.Enum(names)),
        },
        schema_overrides={"r": pl.Int8, "fm": pl.Int8},
    )


def _fm_expr(rounding: str) -> pl.Expr:
    f_plus_m = pl.col("f").cast(pl.Int16) + pl.col("m").cast(pl.Int16)
    if rounding == "half_up":  # floor((F + M)/2 + 1/2) = floor((F + M + 1)/2)
        return ((f_plus_m + 1) // 2).cast(pl.Int8)
    if rounding == "floor":
        return (f_plus_m // 2).cast(pl.Int8)
    raise ValueError(f"Unknown fm_rounding {rounding!r} (use 'half_up' or 'floor').")


def rfm_segments(scored: pl.DataFrame, rules: dict | None = None) -> pl.DataFrame:
    """Name the RFM segment of every scored customer from the rules file (``rfm_segments.yaml``).

    Adds ``fm`` (mean of F and M, rounded as the rules say) and ``segment`` (Enum in the rules' order)
    by looking (r, fm) up in :func:`rfm_grid` — a vectorised lookup, no per-customer code.
    """
    rules = RFM_RULES if rules is None else rules
    _validate_cols(scored, ["r", "f", "m"])
    grid = rfm_grid(rules)
    k = int(rules["scores"])
    out = scored.with_columns(fm=_fm_expr(rules.get("fm_rounding", "half_up")))
    bounds = out.select(
        lo=pl.min_horizontal(pl.col("r").min(), pl.col("fm").min()),
        hi=pl.max_horizontal(pl.col("r").max(), pl.col("fm").max()),
    ).row(0)
    if out.height and (bounds[0] < 1 or bounds[1] > k):
        raise ValueError(f"RFM segments are defined for scores 1..{k}; score with bins={k}.")
    key = pl.col("r").cast(pl.Int16) * 100 + pl.col("fm").cast(pl.Int16)
    lookup = dict(zip((grid["r"].cast(pl.Int16) * 100 + grid["fm"].cast(pl.Int16)).to_list(),
                      grid["segment"].cast(pl.String).to_list(), strict=True))
    return out.with_columns(segment=key.replace_strict(lookup, return_dtype=grid["segment"].dtype))


def rfm_summary(segmented: pl.DataFrame, revenue: str = "revenue", rules: dict | None = None) -> pl.DataFrame:
    """Customers, share of customers, revenue and share of revenue per RFM segment.

    One row for every segment of the rules (zeros included), in the rules' order. Shares are of the
    scored customers; ``revenue_share`` is null when their total revenue is not positive.
    """
    rules = RFM_RULES if rules is None else rules
    _validate_cols(segmented, ["segment", revenue])
    names = [s["name"] for s in rules["segments"]]
    n = segmented.height
    total = float(segmented.get_column(revenue).sum()) if n else 0.0
    agg = segmented.group_by("segment").agg(customers=pl.len(), revenue=pl.col(revenue).sum().cast(pl.Float64))
    base = pl.DataFrame({"segment": pl.Series(names, dtype=pl.Enum(names))})
    out = base.join(
        agg.with_columns(pl.col("segment").cast(pl.String).cast(pl.Enum(names))),
        on="segment", how="left", maintain_order="left",
    ).with_columns(pl.col("customers").fill_null(0).cast(pl.Int64), pl.col("revenue").fill_null(0.0))
    return out.with_columns(
        customer_share=(pl.col("customers") / n) if n else pl.lit(None, pl.Float64),
        revenue_share=(pl.col("revenue") / total) if total > 0 else pl.lit(None, pl.Float64),
    ).select("segment", "customers", "customer_share", "revenue", "revenue_share")


# --------------------------------------------------------------------------------------------------
# value × cost-to-serve quadrants (Shapiro, Rangan, Moriarty & Ross 1987)
# --------------------------------------------------------------------------------------------------
def _value_axis(frame: pl.DataFrame, value: str, margin_column: str, revenue_column: str) -> tuple[pl.Expr, str]:
    """The value axis expression and the basis it uses ("margin", "revenue" or a column name)."""
    if value != "gross_margin":
        _validate_cols(frame, [value])
        return pl.col(value).cast(pl.Float64).fill_null(0.0), value
    _validate_cols(frame, [revenue_column])
    revenue = pl.col(revenue_column).cast(pl.Float64).fill_null(0.0)
    if margin_column not in frame.columns:
        return revenue, "revenue"
    # a customer with no sales has no margin: null margin with zero revenue counts as margin 0
    margin = pl.when(pl.col(margin_column).is_null() & (revenue == 0)).then(0.0).otherwise(
        pl.col(margin_column).cast(pl.Float64)
    )
    unknown = frame.select(margin.is_null().any()).item()
    # margin is used only if known for every customer with sales; mixing margin for some customers and
    # revenue for others would put those on a different scale, so fall back to revenue for everyone
    return (revenue, "revenue") if unknown else (margin, "margin")


def cost_quadrants(
    frame: pl.DataFrame,
    value: str = "gross_margin",
    cost: str = "cost_to_serve",
    split: str = "median",
    *,
    margin_column: str = "margin",
    revenue_column: str = "revenue",
    id_column: str = ID,
) -> pl.DataFrame:
    """Place every customer in the net price × cost-to-serve matrix of Shapiro et al. (1987) [4].

    x = cost to serve, y = value realised from the customer. Each axis is split at its median (or
    mean) over the customers of ``frame``; a customer is *high* on an axis when strictly above the
    split (so with many zero costs and a zero median, "high cost" means any cost at all). Quadrants
    (:data:`QUADRANTS`): high value & high cost = Carriage trade, high value & low cost = Passive,
    low value & high cost = Aggressive, low value & low cost = Bargain basement.

    Parameters
    ----------
    frame
        One row per customer.
    value
        ``"gross_margin"`` (default): the ``margin_column``, falling back to ``revenue_column`` for
        every customer when a customer with sales has no margin (no cost of goods in the data); a
        customer with neither sales nor margin has value 0. Any other string names a column to use
        as is (e.g. ``"revenue"``); nulls count as 0.
    cost
        Cost-to-serve column; null counts as 0 (no recorded service activity).
    split
        ``"median"`` or ``"mean"``.

    Returns
    -------
    pl.DataFrame
        ``frame`` plus ``value_axis``, ``cost_axis`` (Float64), ``value_basis`` (which value was used),
        ``high_value``, ``high_cost`` (bool) and ``quadrant`` (Enum in :data:`QUADRANTS` order).
    """
    _validate_cols(frame, [id_column, cost], must_be_unique=[id_column])
    if split not in ("median", "mean"):
        raise ValueError(f"split must be 'median' or 'mean', got {split!r}")
    value_expr, basis = _value_axis(frame, value, margin_column, revenue_column)
    out = frame.with_columns(
        value_axis=value_expr, cost_axis=pl.col(cost).cast(pl.Float64).fill_null(0.0), value_basis=pl.lit(basis)
    )
    agg = (lambda c: pl.col(c).median()) if split == "median" else (lambda c: pl.col(c).mean())
    v_split, c_split = out.select(agg("value_axis"), agg("cost_axis")).row(0)
    names = list(QUADRANTS)
    hv, hc = pl.col("high_value"), pl.col("high_cost")
    # each quadrant name from its (value, cost) sides in QUADRANTS — the definitions stay data
    expr = pl.lit(None, pl.String)
    for name, d in reversed(QUADRANTS.items()):  # 4 rules, not customers
        cond = (hv if d["value"] == "high" else ~hv) & (hc if d["cost"] == "high" else ~hc)
        expr = pl.when(cond).then(pl.lit(name)).otherwise(expr)
    if v_split is None:  # no customers
        return out.with_columns(high_value=pl.lit(None, pl.Boolean), high_cost=pl.lit(None, pl.Boolean),
                                quadrant=pl.lit(None, pl.Enum(names)))
    return out.with_columns(
        high_value=pl.col("value_axis") > v_split, high_cost=pl.col("cost_axis") > c_split
    ).with_columns(quadrant=expr.cast(pl.Enum(names)))


def quadrant_summary(quadrants: pl.DataFrame, profit: str = "net_profit") -> pl.DataFrame:
    """Customers, share of customers, value, cost, profit and share of profit per quadrant.

    Always four rows in :data:`QUADRANTS` order. ``profit_share`` is each quadrant's profit over the
    total profit (null when the total is not positive); it is negative for a loss-making quadrant.
    Null profits are left out of the sums.
    """
    _validate_cols(quadrants, ["quadrant", "value_axis", "cost_axis", profit])
    names = list(QUADRANTS)
    n = quadrants.height
    total = quadrants.get_column(profit).cast(pl.Float64).sum() if n else 0.0
    agg = quadrants.group_by("quadrant").agg(
        customers=pl.len(),
        value=pl.col("value_axis").sum(),
        cost=pl.col("cost_axis").sum(),
        profit=pl.col(profit).cast(pl.Float64).sum(),
    )
    base = pl.DataFrame({"quadrant": pl.Series(names, dtype=pl.Enum(names))})
    out = base.join(agg, on="quadrant", how="left", maintain_order="left").with_columns(
        pl.col("customers").fill_null(0).cast(pl.Int64), pl.col("value", "cost", "profit").fill_null(0.0)
    )
    return out.with_columns(
        customer_share=(pl.col("customers") / n) if n else pl.lit(None, pl.Float64),
        profit_share=(pl.col("profit") / total) if total > 0 else pl.lit(None, pl.Float64),
    ).select("quadrant", "customers", "customer_share", "value", "cost", "profit", "profit_share")


# --------------------------------------------------------------------------------------------------
# headline figures
# --------------------------------------------------------------------------------------------------
def portfolio_summary(
    frame: pl.DataFrame,
    *,
    revenue: str = "revenue",
    margin: str = "margin",
    id_column: str = ID,
    revenue_curve: ParetoCurve | None = None,
) -> dict[str, Any]:
    """Headline figures of the portfolio page, over the customers of ``frame``.

    Keys: ``customers``, ``revenue`` (total), ``top10_share_revenue``, ``top20_share_revenue``,
    ``top10_share_margin``, ``top20_share_margin`` (None when margin is unknown or its total is not
    positive), ``pareto_point_revenue`` (share of customers making 80 % of revenue), ``gini_revenue``
    (None if revenue has negatives or sums to 0), ``abc_a_share`` (share of customers in class A of
    revenue), ``margin_customers`` (customers with a known margin; no sales counts as margin 0),
    ``margin_defined``. ``revenue_curve``: ``pareto(frame, revenue)`` when the caller has it already (one sort
    fewer at a million customers).
    """
    _validate_cols(frame, [id_column, revenue], must_be_unique=[id_column])  # checked once, here
    if revenue_curve is None:
        rev = _pareto(*_values(frame, revenue, id_column, validate=False), target=0.8, id_column=id_column)
    elif revenue_curve.target != 0.8 or revenue_curve.curve.height + revenue_curve.missing != frame.height:
        raise ValueError("revenue_curve must be pareto(frame, revenue) of this frame")
    else:
        rev = revenue_curve
    mar = None
    if margin in frame.columns:
        # a customer with no sales has margin 0, not an unknown margin (as in cost_quadrants)
        no_sales = pl.col(margin).is_null() & (pl.col(revenue).fill_null(0) == 0)
        known = frame.select(id_column, pl.when(no_sales).then(0.0).otherwise(pl.col(margin)).alias(margin))
        mar = _pareto(*_values(known, margin, id_column, validate=False), target=0.8, id_column=id_column)
    # Gini from the revenue curve's descending values (no second sort); None if any revenue < 0
    g = None if rev.negatives else _gini_sorted_desc(rev.curve.get_column("value").to_numpy())
    abc = _abc_from_curve(rev, 0.8, 0.95, id_column)
    a_share = None
    if rev.defined and rev.n:
        a_share = float((abc.get_column("abc") == "A").sum()) / rev.n
    return {
        "customers": frame.height,
        "revenue": rev.total,
        "top10_share_revenue": rev.top_share(0.1),
        "top20_share_revenue": rev.top_share(0.2),
        "top10_share_margin": mar.top_share(0.1) if mar else None,
        "top20_share_margin": mar.top_share(0.2) if mar else None,
        "pareto_point_revenue": rev.pareto_point,
        "gini_revenue": g,
        "abc_a_share": a_share,
        "margin_customers": mar.n if mar else 0,
        "margin_defined": bool(mar and mar.defined),
    }
