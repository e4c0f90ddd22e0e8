"""Seeded synthetic CRM company: every canonical table, realistic enough to analyse.

The sample company sells outdoor gear to businesses (Enterprise, Mid-market, SMB accounts) and to
consumers in four regions. It is what a new user sees on first start and what the tests and the
benchmarks run on, so its shape follows what the analyses expect of real data:

* **customers** are acquired over ``years`` years ending at ``end``, a little faster every year and
  with a seasonal rhythm (peaks in June and December); IDs follow the acquisition order.
* **transactions** come from a BG/NBD purchase process (Fader, Hardie & Lee 2005, "Counting your
  customers the easy way", Marketing Science 24(2)): each customer buys as a Poisson process with
  rate λ ~ Gamma(r, α) and drops out after a purchase with probability p ~ Beta(a, b), so there are
  many one-time buyers and a loyal core. Dropout may already follow the first purchase, as in the
  MBG/NBD variant (Batislam, Denizel & Filiztekin 2007), which gives a realistic share of one-time
  buyers without an extreme purchase-rate skew. Order values follow the Gamma-Gamma spend model
  (Fader, Hardie & Lee 2005, "RFM and CLV: Using iso-value curves", JMR 42(4)): each customer has
  its own mean spend, higher for bigger accounts.
* one latent *satisfaction* per customer ties the tables together: unhappy customers drop out
  sooner, ask for more refunds, open more support tickets, give lower NPS/CSAT and lose more deals.
* **interactions**, **feedback** and **deals** follow the customer's segment and activity.

Every timestamp falls in business hours (08:00-18:00) on or after the customer's ``created_at``
and on or before the ``end`` date. The whole generator is vectorized with numpy, so one million
customers take seconds rather than hours.

Deliberate data-quality problems (for ``crm_core.quality`` and the Data page)
-----------------------------------------------------------------------------
In ``customers`` (every other table is clean):

* **near-duplicate customers**: ``max(2, customers // 1000)`` customers acquired in the second
  half of the customer list are re-registrations of earlier customers. They repeat the earlier
  record's name, company, country, region, industry, segment and owner, but the email is written
  in upper case and the phone number as digits only (``"+44 20 7946 0958"`` becomes
  ``"442079460958"``). They are exactly the customers whose lower-cased email is not unique.
  With the defaults the pairs are listed in ``data/sample/README.md``.
* **phone formatting**: about 3 % of other phones use another format: digits only, ``00``
  instead of ``+``, or dots instead of spaces.
* **upper-case emails**: about 1.5 % of other emails.
* **missing values**: about 2 % of phones and 1 % of emails are empty; consumers have no
  company and no industry (by design, not an error).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from crm_core.schema import DEAL_STATUSES, TABLES, TRANSACTION_STATUSES

SAMPLE_DATASET = "Sample company (Alder Ridge Outfitters)"
CURRENCY = "USD"  # every amount of the sample company is in US dollars

# --------------------------------------------------------------------------------------------
# Reference data: the company's world, as data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Country:
    name: str
    region: str
    weight: float  # share of its region's customers
    phone: str  # literal text with {lo-hi} groups of random digits
    tld: str  # top-level domain of company email addresses
    legal: str  # legal form appended to company names
    names: str  # key of the name pool in _NAMES


_REGION_SHARE = {"North America": 0.40, "Europe": 0.32, "Asia-Pacific": 0.17, "Latin America": 0.11}

_COUNTRIES = (
    _Country("United States", "North America", 0.82, "+1 {201-989} {200-999}-{0000-9999}", "com", "Inc.", "en"),
    _Country("Canada", "North America", 0.18, "+1 {204-905} {200-999}-{0000-9999}", "ca", "Ltd.", "en"),
    _Country("United Kingdom", "Europe", 0.26, "+44 20 {7000-8999} {0000-9999}", "co.uk", "Ltd", "en"),
    _Country("Germany", "Europe", 0.24, "+49 30 {1000-9999} {1000-9999}", "de", "GmbH", "de"),
    _Country("France", "Europe", 0.16, "+33 1 {10-99} {10-99} {10-99} {10-99}", "fr", "SAS", "fr"),
    _Country("Netherlands", "Europe", 0.10, "+31 20 {100-999} {1000-9999}", "nl", "B.V.", "nl"),
    _Country("Spain", "Europe", 0.09, "+34 91 {100-999} {10-99} {10-99}", "es", "S.L.", "es"),
    _Country("Italy", "Europe", 0.08, "+39 02 {1000-9999} {1000-9999}", "it", "S.r.l.", "it"),
    _Country("Sweden", "Europe", 0.07, "+46 8 {100-999} {100-999} {10-99}", "se", "AB", "sv"),
    _Country("Australia", "Asia-Pacific", 0.34, "+61 2 {8000-9999} {1000-9999}", "com.au", "Pty Ltd", "en"),
    _Country("Japan", "Asia-Pacific", 0.22, "+81 3-{1000-9999}-{1000-9999}", "co.jp", "K.K.", "ja"),
    _Country("Singapore", "Asia-Pacific", 0.16, "+65 {6000-6999} {1000-9999}", "sg", "Pte. Ltd.", "en"),
    _Country("India", "Asia-Pacific", 0.16, "+91 {70000-99999} {10000-99999}", "in", "Pvt. Ltd.", "hi"),
    _Country("New Zealand", "Asia-Pacific", 0.12, "+64 9 {300-999} {1000-9999}", "co.nz", "Ltd", "en"),
    _Country("Brazil", "Latin America", 0.38, "+55 11 9{1000-9999}-{1000-9999}", "com.br", "Ltda.", "pt"),
    _Country("Mexico", "Latin America", 0.30, "+52 55 {1000-9999} {1000-9999}", "com.mx", "S.A. de C.V.", "es"),
    _Country("Chile", "Latin America", 0.12, "+56 2 {2000-2999} {1000-9999}", "cl", "SpA", "es"),
    _Country("Colombia", "Latin America", 0.11, "+57 601 {200-799} {1000-9999}", "com.co", "S.A.S.", "es"),
    _Country("Argentina", "Latin America", 0.09, "+54 11 {4000-6999}-{1000-9999}", "com.ar", "S.R.L.", "es"),
)

# name pool -> (first names, last names)
_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("James", "Emily", "Michael", "Sarah", "David", "Jessica", "Daniel", "Laura", "Ryan", "Megan",
         "Thomas", "Hannah", "Andrew", "Olivia", "Chris", "Grace"),
        ("Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Clarke", "Walker", "Robinson",
         "Thompson", "Wright", "Hughes", "Campbell", "Mitchell", "Turner", "Parker"),
    ),
    "de": (
        ("Lukas", "Anna", "Jonas", "Lena", "Felix", "Julia", "Tobias", "Katrin", "Jürgen", "Sabine"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Schäfer", "Koch", "Richter"),
    ),
    "fr": (
        ("Camille", "Louis", "Chloé", "Hugo", "Léa", "Julien", "Manon", "Nicolas", "Hélène", "Antoine"),
        ("Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux", "Fontaine"),
    ),
    "nl": (
        ("Daan", "Sanne", "Bram", "Lotte", "Sem", "Femke", "Thijs", "Eva"),
        ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Smit", "Meijer"),
    ),
    "es": (
        ("José", "María", "Carlos", "Lucía", "Javier", "Sofía", "Diego", "Valentina", "Andrés", "Camila"),
        ("García", "Martínez", "López", "Rodríguez", "Hernández", "Pérez", "Sánchez", "Ramírez", "Torres",
         "Flores"),
    ),
    "it": (
        ("Marco", "Giulia", "Luca", "Francesca", "Matteo", "Chiara", "Alessandro", "Sara"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"),
    ),
    "sv": (
        ("Erik", "Åsa", "Johan", "Ingrid", "Oskar", "Maja", "Nils", "Elin"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Ström", "Lindqvist"),
    ),
    "ja": (
        ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Kenji", "Yuki"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura"),
    ),
    "hi": (
        ("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Kavya", "Arjun", "Neha"),
        ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Mehta"),
    ),
    "pt": (
        ("João", "Ana", "Pedro", "Beatriz", "Lucas", "Mariana", "Gabriel", "Larissa"),
        ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Gonçalves", "Almeida"),
    ),
}

# folded to ASCII for email addresses
_ACCENTS = {"á": "a", "à": "a", "â": "a", "ä": "a", "ã": "a", "å": "a", "é": "e", "è": "e", "ê": "e",
            "ë": "e", "í": "i", "ï": "i", "ó": "o", "ô": "o", "ö": "o", "õ": "o", "ø": "o", "ú": "u",
            "ü": "u", "ç": "c", "ñ": "n", "ß": "ss", " ": ""}

_FREEMAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me")

# account managers per region
_OWNERS: dict[str, tuple[str, ...]] = {
    "North America": ("Olivia Bennett", "Marcus Reed", "Priya Natarajan"),
    "Europe": ("Sofia Lindqvist", "Lukas Brandt", "Camille Dubois"),
    "Asia-Pacific": ("Kenji Watanabe", "Chloe Tan"),
    "Latin America": ("Mateo Alvarez",),
}


def _pools(groups: dict[str, tuple[str, ...]], key) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Flatten named pools of values: (all values, offset and size of each country's pool)."""
    names = list(groups)
    flat = [v for g in names for v in groups[g]]
    offset = np.cumsum([0] + [len(groups[g]) for g in names])[:-1]
    index = [names.index(key(c)) for c in _COUNTRIES]
    return flat, offset[index], np.array([len(groups[names[i]]) for i in index])


_FIRST_NAMES, *_FIRST_BY_COUNTRY = _pools({k: v[0] for k, v in _NAMES.items()}, lambda c: c.names)
_LAST_NAMES, *_LAST_BY_COUNTRY = _pools({k: v[1] for k, v in _NAMES.items()}, lambda c: c.names)
_OWNER_NAMES, *_OWNERS_BY_COUNTRY = _pools(_OWNERS, lambda c: c.region)

# industry -> word in company names
_INDUSTRIES = {"Retail": "Stores", "Sporting goods": "Sports", "Hospitality": "Lodges", "Education": "Academy",
               "Logistics": "Logistics", "Construction": "Builders", "Healthcare": "Clinics", "Tourism": "Tours"}
_COMPANY_A = ("Granite", "Cedar", "Silver", "North", "Blue", "Iron", "Summit", "Alpine", "Maple", "Falcon",
              "Aspen", "Coastal", "Highland", "Pioneer", "Golden", "Evergreen", "Lakeside", "Red", "Polar",
              "Juniper", "Copper", "Wild", "Misty", "Harbor", "Eagle", "Sierra", "Timber", "Glacier", "Birch",
              "Sunrise")
_COMPANY_B = ("Peak", "River", "Ridge", "Trail", "Valley", "Point", "Bay", "Field", "Rock", "Creek", "Forge",
              "Bridge", "Crest", "Pine", "Gate", "Stone", "Meadow", "Canyon", "Grove", "Lake", "Hill", "Wood",
              "Fjord", "Mesa", "Cove", "Ledge", "Moor", "Basin", "Spring", "Harvest")

_ACQUISITION = ("Web", "Referral", "Partner", "Paid search", "Trade show", "Outbound")
# dropout multiplier per acquisition channel: referred customers stay longest
_ACQUISITION_DROPOUT = (1.1, 0.7, 0.9, 1.3, 0.9, 1.0)

_SALES_CHANNELS = ("Online", "Store", "Phone", "Partner")
_CONTACT_KINDS = ("call", "email", "meeting", "visit", "chat")
_KINDS = (*_CONTACT_KINDS, "ticket")


@dataclass(frozen=True)
class _Segment:
    name: str
    share: float
    business: bool  # business accounts have a company and an industry
    purchase_rate: float  # multiplies λ
    dropout: float  # multiplies p
    mean_spend: float  # E[order value], Gamma-Gamma
    discount_share: float  # share of orders with a discount
    contacts_per_month: float  # account-management contacts while the customer is active
    tickets_per_year: float  # support tickets of a customer of average satisfaction
    deals_per_year: float
    deal_size: float  # median deal amount
    deal_cycle: float  # mean days from creation to close
    acquisition: tuple[float, ...]  # weights over _ACQUISITION
    sales_channel: tuple[float, ...]  # weights over _SALES_CHANNELS
    contact_kinds: tuple[float, ...]  # weights over _CONTACT_KINDS


_SEGMENTS = (
    _Segment(
        "Enterprise", share=0.08, business=True, purchase_rate=1.8, dropout=0.7, mean_spend=420.0,
        discount_share=0.35, contacts_per_month=1.6, tickets_per_year=2.0, deals_per_year=2.5,
        deal_size=40_000.0, deal_cycle=80.0,
        acquisition=(0.05, 0.20, 0.20, 0.00, 0.25, 0.30), sales_channel=(0.20, 0.05, 0.40, 0.35),
        contact_kinds=(0.30, 0.35, 0.20, 0.15, 0.00),
    ),
    _Segment(
        "Mid-market", share=0.20, business=True, purchase_rate=1.4, dropout=0.85, mean_spend=260.0,
        discount_share=0.25, contacts_per_month=0.7, tickets_per_year=1.0, deals_per_year=1.0,
        deal_size=12_000.0, deal_cycle=44.0,
        acquisition=(0.15, 0.20, 0.20, 0.10, 0.15, 0.20), sales_channel=(0.35, 0.10, 0.35, 0.20),
        contact_kinds=(0.35, 0.40, 0.12, 0.08, 0.05),
    ),
    _Segment(
        "SMB", share=0.37, business=True, purchase_rate=1.0, dropout=1.0, mean_spend=150.0,
        discount_share=0.12, contacts_per_month=0.25, tickets_per_year=0.5, deals_per_year=0.0,
        deal_size=0.0, deal_cycle=0.0,
        acquisition=(0.35, 0.20, 0.10, 0.20, 0.05, 0.10), sales_channel=(0.50, 0.25, 0.20, 0.05),
        contact_kinds=(0.35, 0.45, 0.03, 0.02, 0.15),
    ),
    _Segment(
        "Consumer", share=0.35, business=False, purchase_rate=0.5, dropout=1.2, mean_spend=90.0,
        discount_share=0.08, contacts_per_month=0.04, tickets_per_year=0.2, deals_per_year=0.0,
        deal_size=0.0, deal_cycle=0.0,
        acquisition=(0.50, 0.20, 0.00, 0.30, 0.00, 0.00), sales_channel=(0.65, 0.30, 0.05, 0.00),
        contact_kinds=(0.15, 0.55, 0.00, 0.00, 0.30),
    ),
)

# category -> (COGS share of net revenue, share of demand, products with list prices)
_CATALOGUE: dict[str, tuple[float, float, tuple[tuple[str, float], ...]]] = {
    "Footwear": (0.60, 0.22, (("Trail runner", 129.0), ("Hiking boot", 179.0), ("Approach shoe", 149.0),
                              ("Camp sandal", 59.0))),
    "Apparel": (0.57, 0.28, (("Merino base layer", 79.0), ("Softshell jacket", 159.0), ("Rain shell", 219.0),
                             ("Hiking trousers", 89.0))),
    "Camping": (0.66, 0.16, (("Two-person tent", 349.0), ("Down sleeping bag", 289.0), ("Camp stove", 89.0),
                             ("Sleeping mat", 119.0))),
    "Climbing": (0.63, 0.09, (("Dynamic rope 60 m", 199.0), ("Harness", 69.0), ("Helmet", 79.0),
                              ("Quickdraw set", 129.0))),
    "Packs & bags": (0.59, 0.13, (("Daypack 25 L", 99.0), ("Trekking pack 55 L", 229.0), ("Duffel 70 L", 139.0),
                                  ("Dry bag set", 39.0))),
    "Accessories": (0.68, 0.12, (("Headlamp", 45.0), ("Water filter", 59.0), ("Trekking poles", 89.0),
                                 ("Insulated bottle", 29.0))),
}

# BG/NBD parameters, time unit one (seasonally adjusted) day; Fader, Hardie & Lee (2005)
_R, _ALPHA = 3.0, 30.0  # λ ~ Gamma(shape r, rate α): an SMB buyer orders every ~10 days while active
_A, _B = 0.08, 0.2  # p ~ Beta(a, b): U-shaped, one-time buyers (p near 1) and a loyal core (p near 0)
_SATISFACTION_DROPOUT = 0.6  # rank correlation of p with dissatisfaction: unhappy customers lapse sooner
# Gamma-Gamma spend: order value ~ Gamma(_GG_P, rate ν), ν ~ Gamma(_GG_Q, rate γ), E[value] = p γ / (q - 1)
_GG_P, _GG_Q = 6.0, 6.0

_PER_CATEGORY = 4  # products per category in _CATALOGUE
# COGS share of net revenue per product: its category's share, spread a little across products
_PRODUCT_COGS = np.repeat([c[0] for c in _CATALOGUE.values()], _PER_CATEGORY) + np.tile(
    [-0.02, -0.01, 0.01, 0.02], len(_CATALOGUE)
)
_REFUND_RATE, _CANCEL_RATE = 0.03, 0.015
_DISCOUNT_RATES = (0.05, 0.10, 0.15, 0.20)
_PREFERRED_CHANNEL_SHARE = 0.8  # orders through the customer's preferred sales channel

# minutes: median duration per kind in _KINDS
_DURATION = (12.0, 5.0, 45.0, 90.0, 8.0, 25.0)
_CONTACT_CHANNELS = {  # kind -> (channels, weights)
    "call": (("Phone",), (1.0,)),
    "email": (("Email",), (1.0,)),
    "meeting": (("Video call", "In person"), (0.6, 0.4)),
    "visit": (("In person",), (1.0,)),
    "chat": (("Chat",), (1.0,)),
    "ticket": (("Web form", "Email", "Phone"), (0.5, 0.3, 0.2)),
}
_OUTCOMES = ("resolved", "follow-up", "no answer", "order placed", "escalated")
_OUTCOME_WEIGHTS = (  # per kind in _KINDS, over _OUTCOMES
    (0.25, 0.40, 0.20, 0.15, 0.00),
    (0.20, 0.45, 0.25, 0.10, 0.00),
    (0.15, 0.55, 0.00, 0.30, 0.00),
    (0.15, 0.45, 0.00, 0.40, 0.00),
    (0.55, 0.30, 0.05, 0.10, 0.00),
    (0.78, 0.12, 0.00, 0.00, 0.10),
)

_COMMENTS = {  # NPS class -> comments (some with commas and quotes, to exercise CSV quoting)
    "detractor": ("Delivery took far too long.", "The order arrived incomplete, and nobody called back.",
                  "Refund took weeks to process.", "Prices went up again this year.",
                  'Support kept saying "we are looking into it".', "Quality of the last batch was poor."),
    "passive": ("Good products, average service.", "Fine overall, but the website is slow.",
                "Okay, though delivery could be faster.", "Decent value for money."),
    "promoter": ("Great quality and fast delivery!", "Our account manager is excellent.",
                 "Best outdoor supplier we have worked with.", "Très bon service, merci !",
                 "Reliable, friendly, and quick to respond."),
}

_DEAL_SOURCES = ("Inbound", "Outbound", "Referral", "Partner", "Trade show", "Existing account")
_DEAL_SOURCE_WEIGHTS = (0.20, 0.20, 0.12, 0.13, 0.10, 0.25)
_DEAL_SOURCE_WIN = (0.02, -0.10, 0.12, 0.03, -0.03, 0.08)  # added to the base win probability
_DEAL_WIN_RATE = 0.30
_OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")

_BUSINESS_OPEN_H, _BUSINESS_HOURS = 8.0, 10.0  # 08:00-18:00
_BLOCK_ROWS = 1 << 18  # rows generated per vectorized block: big runs reuse small temporaries

_DTYPES = {"id": pl.String, "text": pl.String, "status": pl.String, "timestamp": pl.Datetime("us"),
           "money": pl.Float64, "number": pl.Float64, "integer": pl.Int32}


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def generate(
    customers: int = 3000,
    seed: int = 7,
    end: dt.date = dt.date(2026, 9, 30),
    years: int = 3,
) -> dict[str, pl.DataFrame]:
    """Generate the sample company's CRM tables.

    Parameters
    ----------
    customers : int
        Number of customers (at least 1).
    seed : int
        Seed of the random generator; the same seed gives the same tables.
    end : datetime.date
        Last day of data; every timestamp falls on or before it.
    years : int
        Length of the history; customers are acquired over the ``years`` years ending at ``end``.

    Returns
    -------
    dict[str, polars.DataFrame]
        ``customers``, ``transactions``, ``interactions``, ``feedback`` and ``deals``, each with
        exactly the canonical columns of ``crm_core.schema.TABLES`` in order, typed by column kind.
        With the defaults: 3,000 customers and about 80,000 transactions.
    """
    if customers < 1 or years < 1:
        raise ValueError("customers and years must be at least 1")
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    clock = _Clock.over(end, years)
    people = _draw_customers(rngs[0], customers, clock)
    purchases = _draw_transactions(rngs[1], people, clock)
    contacts = _draw_interactions(rngs[2], people, purchases, clock)
    return {
        "customers": _customers_frame(people, clock),
        "transactions": _transactions_frame(rngs[1], people, purchases, clock),
        "interactions": _interactions_frame(rngs[2], people, contacts, clock),
        "feedback": _feedback_frame(rngs[3], people, purchases, contacts, clock),
        "deals": _deals_frame(rngs[4], people, clock),
    }


def write_exports(out_dir: str | Path, customers: int = 3000, seed: int = 7) -> list[Path]:
    """Write the sample company as CSV exports, one file per canonical table.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write to; created if missing.
    customers, seed : int
        Passed to :func:`generate` (with its default ``end`` and ``years``).

    Returns
    -------
    list[Path]
        ``customers.csv``, ``transactions.csv``, ``interactions.csv``, ``feedback.csv`` and
        ``deals.csv``. Headers are the canonical column names, timestamps ``YYYY-MM-DD HH:MM:SS``,
        money with two decimals, counts and minutes as whole numbers, missing values empty.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in generate(customers=customers, seed=seed).items():
        whole = [c for c in ("quantity", "duration_minutes") if c in frame.columns]
        path = out / f"{name}.csv"
        frame.with_columns(pl.col(whole).round(0).cast(pl.Int64)).write_csv(
            path, datetime_format="%Y-%m-%d %H:%M:%S", float_precision=2, float_scientific=False
        )
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Time: days since the first day, seasonality, business hours
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """Calendar of the history: day ``d`` is ``start + d``; times are float days since ``start``.

    ``intensity`` is the cumulative seasonal intensity at the start of every day (length days + 1,
    mean one per day): a Poisson process of rate λ in *intensity* time is a seasonal process of
    rate λ·season(t) in calendar time.
    """

    start: dt.date
    days: int
    season: np.ndarray
    intensity: np.ndarray

    @classmethod
    def over(cls, end: dt.date, years: int) -> _Clock:
        days = int(round(365.25 * years))
        start = end - dt.timedelta(days=days - 1)
        dates = np.datetime64(start, "D") + np.arange(days)
        doy = (dates - dates.astype("datetime64[Y]")).astype(np.float64)
        # outdoor season peaks in June and, smaller, before Christmas
        season = 1 + 0.08 * np.cos(2 * np.pi * (doy - 165) / 365.25) + 0.14 * np.cos(4 * np.pi * (doy - 165) / 365.25)
        season /= season.mean()
        return cls(start, days, season, np.concatenate([[0.0], np.cumsum(season)]))

    def to_intensity(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, np.arange(self.days + 1), self.intensity)

    def from_intensity(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self.intensity, np.arange(self.days + 1))

    def clip(self, t: np.ndarray) -> np.ndarray:
        """Keep times inside the history (before the end of the last day)."""
        return np.minimum(t, self.days - 1e-6)

    def timestamps(self, t: np.ndarray) -> np.ndarray:
        """Float days to ``datetime64[us]`` (whole seconds) in business hours.

        The fraction of each day is squeezed into 08:00-18:00; the map is monotone, so an event
        after another stays after it.
        """
        out = np.empty(len(t), dtype=np.int64)
        origin = np.datetime64(self.start, "us").astype(np.int64)
        for lo in range(0, len(t), _BLOCK_ROWS):
            block = t[lo : lo + _BLOCK_ROWS]
            day = np.floor(block)
            seconds = day * 86400 + (_BUSINESS_OPEN_H * 3600 + (block - day) * (_BUSINESS_HOURS * 3600))
            out[lo : lo + _BLOCK_ROWS] = origin + seconds.astype(np.int64) * 1_000_000
        return out.view("datetime64[us]")


# --------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------


@dataclass
class _People:
    """Customers as arrays (index = customer number - 1) plus their identity columns."""

    created: np.ndarray  # float days
    segment: np.ndarray  # index into _SEGMENTS
    acquisition: np.ndarray  # index into _ACQUISITION
    owner: np.ndarray  # index into _OWNER_NAMES
    satisfaction: np.ndarray  # latent, standard normal
    text: pl.DataFrame  # customer_id, name, email, phone, company, country, region, industry, segment, owner


def _draw_customers(rng: np.random.Generator, n: int, clock: _Clock) -> _People:
    """Draw customers, acquired ~25 % faster every year and with the season, in ID order."""
    growth = np.exp(0.25 * np.arange(clock.days) / 365.25) * clock.season
    created = clock.clip(np.sort(_choice(rng, growth, n) + rng.random(n)))
    country = _choice(rng, [_REGION_SHARE[c.region] * c.weight for c in _COUNTRIES], n)
    segment = _choice(rng, [s.share for s in _SEGMENTS], n)
    owner = _pick_in_pool(rng, _OWNERS_BY_COUNTRY, country)
    text = _customer_text(rng, country, segment, owner)
    source = _near_duplicate_sources(rng, n)
    segment, owner = segment[source], owner[source]
    text = text.with_columns(pl.exclude("customer_id").gather(source))
    return _People(
        created=created,
        segment=segment,
        acquisition=_choice_rows(rng, [s.acquisition for s in _SEGMENTS], segment),
        owner=owner,
        satisfaction=rng.standard_normal(n),
        text=_make_messy(rng, text, source),
    )


def _near_duplicate_sources(rng: np.random.Generator, n: int) -> np.ndarray:
    """Row each customer's identity comes from: itself, or for a near-duplicate an earlier customer."""
    source = np.arange(n)
    k = min(max(2, n // 1000), n // 4)
    half = n // 2
    source[half + rng.choice(n - half, size=k, replace=False)] = rng.choice(half, size=k, replace=False)
    return source


def _customer_text(
    rng: np.random.Generator, country: np.ndarray, segment: np.ndarray, owner: np.ndarray
) -> pl.DataFrame:
    """Identity columns: IDs, names, emails, phones, companies, geography, segment, owner."""
    n = len(country)
    business = np.array([s.business for s in _SEGMENTS])[segment]
    industry = np.where(business, rng.integers(len(_INDUSTRIES), size=n), len(_INDUSTRIES))
    # company names: unique within an industry as long as the name parts last, industries start apart
    combos = len(_COMPANY_A) * len(_COMPANY_B)
    combo = rng.permutation(combos)[(_rank_within(industry) + industry * combos // len(_INDUSTRIES)) % combos]
    frame = pl.DataFrame(
        {
            "customer_id": _ids("C", n, 5),
            "first": _labels(_FIRST_NAMES, _pick_in_pool(rng, _FIRST_BY_COUNTRY, country)),
            "last": _labels(_LAST_NAMES, _pick_in_pool(rng, _LAST_BY_COUNTRY, country)),
            "part_a": _labels(_COMPANY_A, combo // len(_COMPANY_B)),
            "part_b": _labels(_COMPANY_B, combo % len(_COMPANY_B)),
            "industry": _labels([*_INDUSTRIES, None], industry),
            "industry_word": _labels([*_INDUSTRIES.values(), None], industry),
            "business": business,
            "country": _labels([c.name for c in _COUNTRIES], country),
            "region": _labels([c.region for c in _COUNTRIES], country),
            "tld": _labels([c.tld for c in _COUNTRIES], country),
            "legal": _labels([c.legal for c in _COUNTRIES], country),
            "segment": _labels([s.name for s in _SEGMENTS], segment),
            "owner": _labels(_OWNER_NAMES, owner),
            "freemail": _labels(_FREEMAIL, rng.integers(len(_FREEMAIL), size=n)),
            "number": np.where(rng.random(n) < 0.4, rng.integers(10, 100, size=n), -1),
            "phone": _phones(rng, country),
        }
    )
    local = (
        pl.concat_str(["first", pl.lit("."), "last"]).str.to_lowercase()
        .str.replace_many(list(_ACCENTS), list(_ACCENTS.values()))
    )
    company_domain = pl.concat_str(["part_a", "part_b", "industry_word"]).str.to_lowercase()
    frame = frame.with_columns(
        local=pl.when(~pl.col("business") & (pl.col("number") >= 0))
        .then(pl.concat_str([local, pl.col("number").cast(pl.String)]))  # consumers: jane.doe42@
        .otherwise(local),
        domain=pl.when("business").then(pl.concat_str([company_domain, pl.lit("."), "tld"])).otherwise("freemail"),
    ).with_columns(clash=pl.int_range(pl.len()).over("local", "domain"))  # same person name, same domain
    suffix = pl.when(pl.col("clash") > 0).then((pl.col("clash") + 1).cast(pl.String)).otherwise(pl.lit(""))
    return frame.select(
        "customer_id",
        name=pl.concat_str(["first", "last"], separator=" "),
        email=pl.concat_str(["local", suffix, pl.lit("@"), "domain"]),
        phone="phone",
        company=pl.when("business").then(
            pl.concat_str(["part_a", "part_b", "industry_word", "legal"], separator=" ")
        ),
        country="country",
        region="region",
        industry="industry",
        segment="segment",
        owner="owner",
    )


def _phones(rng: np.random.Generator, country: np.ndarray) -> pl.Series:
    """International phone numbers in each country's usual format."""
    phone = pl.Series("phone", [None] * len(country), dtype=pl.String)
    for i, c in enumerate(_COUNTRIES):
        rows = np.flatnonzero(country == i)
        phone = phone.scatter(rows, _fill_template(rng, c.phone, len(rows)))
    return phone


def _fill_template(rng: np.random.Generator, template: str, n: int) -> pl.Series:
    """Fill a template such as ``"+44 20 {7000-8999} {0000-9999}"`` with random digit groups.

    Each ``{lo-hi}`` group becomes a number between lo and hi, zero-padded to the width of hi.
    """
    parts: list[pl.Series] = []
    for literal, lo, hi in re.findall(r"([^{]*)(?:\{(\d+)-(\d+)\})?", template):
        if literal:
            parts.append(pl.repeat(literal, n, dtype=pl.String, eager=True))
        if hi:
            digits = rng.integers(int(lo), int(hi) + 1, size=n)
            parts.append(pl.Series(digits).cast(pl.String).str.zfill(len(hi)))
    return pl.select(pl.concat_str(parts)).to_series()


def _make_messy(rng: np.random.Generator, text: pl.DataFrame, source: np.ndarray) -> pl.DataFrame:
    """Add the documented data-quality problems (see the module docstring).

    Near-duplicates get an upper-case email and a digits-only phone; the other problems spare
    both members of a near-duplicate pair, so a pair always shares its phone digits.
    """
    n = text.height
    duplicate = source != np.arange(n)
    paired = duplicate.copy()
    paired[source[duplicate]] = True
    u, v = rng.random(n), rng.random(n)
    style = rng.integers(3, size=n)
    reformat = (u < 0.03) & ~paired
    phone, email = pl.col("phone"), pl.col("email")
    return text.with_columns(
        phone=pl.when(pl.Series(duplicate | (reformat & (style == 0))))
        .then(phone.str.replace_all(r"\D", ""))
        .when(pl.Series(reformat & (style == 1)))
        .then(phone.str.replace(r"^\+", "00"))
        .when(pl.Series(reformat & (style == 2)))
        .then(phone.str.replace_all(r"[ -]", "."))
        .when(pl.Series((u >= 0.03) & (u < 0.05) & ~paired))
        .then(None)
        .otherwise(phone),
        email=pl.when(pl.Series((v < 0.015) | duplicate))
        .then(email.str.to_uppercase())
        .when(pl.Series((v >= 0.015) & (v < 0.025) & ~paired))
        .then(None)
        .otherwise(email),
    )


def _customers_frame(people: _People, clock: _Clock) -> pl.DataFrame:
    return _canonical(
        "customers",
        {
            **people.text.to_dict(),
            "acquisition_channel": _labels(_ACQUISITION, people.acquisition),
            "created_at": clock.timestamps(people.created),
        },
    )


# --------------------------------------------------------------------------------------------
# Transactions: BG/NBD purchases, Gamma-Gamma spend
# --------------------------------------------------------------------------------------------


@dataclass
class _Purchases:
    """One row per purchase, sorted by time: customer index, time, and purchase number (0 = first)."""

    customer: np.ndarray
    time: np.ndarray
    number: np.ndarray
    status: np.ndarray  # index into TRANSACTION_STATUSES: 0 completed, 1 refunded, 2 cancelled
    last: np.ndarray  # per customer: time of the last purchase


def _draw_transactions(rng: np.random.Generator, people: _People, clock: _Clock) -> _Purchases:
    """Purchase times by the BG/NBD process of Fader, Hardie & Lee (2005), vectorized.

    The first purchase is the acquisition. Repeat purchases form a Poisson process of rate λ (in
    seasonal intensity time) until the customer drops out, which happens after any purchase with
    probability p. Rather than stepping through purchases, the process is sampled exactly in one
    pass: N ~ Poisson(λ W) purchases would fall in the customer's window W if the customer lived,
    the customer survives J ~ Geometric(p) - 1 repeat purchases, so x = min(N, J) repeats are seen,
    at the first x order statistics of N uniform times on the window (see ``_purchase_times``).
    Rows are produced in blocks of customers so that large runs reuse their temporary arrays.
    """
    seg = people.segment
    n = len(seg)
    rate = rng.gamma(_R, 1 / _ALPHA, size=n) * _seg(seg, "purchase_rate")
    dropout = np.clip(
        _coupled(rng, rng.beta(_A, _B, size=n), -people.satisfaction, _SATISFACTION_DROPOUT)
        * _seg(seg, "dropout")
        * np.array(_ACQUISITION_DROPOUT)[people.acquisition],
        0.0,
        1.0,
    )
    opened = clock.to_intensity(people.created)
    window = clock.intensity[-1] - opened
    possible = rng.poisson(rate * window)
    repeats = np.minimum(possible, rng.geometric(dropout) - 1)
    counts = repeats + 1
    ends = np.cumsum(counts)
    # unhappy customers ask for more refunds; scaled so that refunds are _REFUND_RATE of all orders
    weight = np.exp(-0.5 * people.satisfaction)
    refund = _REFUND_RATE * weight * ends[-1] / (weight @ counts)
    customer = np.empty(ends[-1], dtype=np.int32)
    number = np.empty(ends[-1], dtype=np.int32)
    time = np.empty(ends[-1])
    status = np.empty(ends[-1], dtype=np.int8)
    for a, b in _blocks(ends):
        rows = slice(ends[a] - counts[a], ends[b - 1])
        block = np.repeat(np.arange(a, b, dtype=np.int32), counts[a:b])
        customer[rows], number[rows] = block, _number_within(counts[a:b])
        time[rows] = _purchase_times(
            rng, clock, counts[a:b], number[rows], opened[a:b], window[a:b], possible[a:b] - repeats[a:b]
        )
        np.maximum(time[rows], people.created[block], out=time[rows])  # first purchase = acquisition
        status[rows] = _draw_status(rng, refund[block])
    order = np.argsort(time)
    return _Purchases(customer[order], time[order], number[order], status[order], last=time[ends - 1])


def _purchase_times(
    rng: np.random.Generator,
    clock: _Clock,
    counts: np.ndarray,
    number: np.ndarray,
    opened: np.ndarray,
    window: np.ndarray,
    unseen: np.ndarray,
) -> np.ndarray:
    """Purchase times of a block of customers: the first x of N uniform order statistics.

    With S_k partial sums of unit exponentials and G ~ Gamma(N + 1 - x) (the ``unseen`` purchases
    plus one), S_k / (S_x + G) for k = 1..x are the first x order statistics of N uniforms on (0, 1).
    Purchase number 0 (S_0 = 0) is the acquisition at the start of the window.
    """
    partial = rng.exponential(size=len(number))
    partial[number == 0] = 0.0
    partial = _cumsum_within(partial, counts)
    total = partial[np.cumsum(counts) - 1] + rng.gamma(unseen + 1.0)
    partial *= np.repeat(window / total, counts)
    partial += np.repeat(opened, counts)
    return clock.clip(clock.from_intensity(partial))


def _draw_status(rng: np.random.Generator, refund: np.ndarray) -> np.ndarray:
    """0 completed, 1 refunded (probability ``refund`` per row), 2 cancelled."""
    u = rng.random(len(refund))
    return np.where(u < refund, 1, np.where(u < refund + _CANCEL_RATE, 2, 0)).astype(np.int8)


@dataclass(frozen=True)
class _Buyers:
    """Per-customer buying habits."""

    spend_rate: np.ndarray  # ν of the Gamma-Gamma model
    favourite: np.ndarray  # category index
    channel: np.ndarray  # preferred sales channel index
    discount_share: np.ndarray


def _transactions_frame(
    rng: np.random.Generator, people: _People, purchases: _Purchases, clock: _Clock
) -> pl.DataFrame:
    """Order lines: Gamma-Gamma order values, products, channels, discounts, COGS."""
    seg = people.segment
    n, m = len(seg), len(purchases.customer)
    # Gamma-Gamma: ν ~ Gamma(q, γ) per customer, value ~ Gamma(p, ν) per order; E[value] = p γ / (q - 1)
    gamma = _seg(seg, "mean_spend") * (_GG_Q - 1) / _GG_P
    buyers = _Buyers(
        spend_rate=rng.gamma(_GG_Q, 1 / gamma),
        favourite=_choice(rng, [c[1] for c in _CATALOGUE.values()], n),
        channel=_choice_rows(rng, [s.sales_channel for s in _SEGMENTS], seg),
        discount_share=_seg(seg, "discount_share"),
    )
    columns: dict[str, np.ndarray] = {}
    for lo in range(0, m, _BLOCK_ROWS):
        rows = slice(lo, lo + _BLOCK_ROWS)
        for name, values in _order_lines(rng, buyers, purchases.customer[rows], purchases.number[rows]).items():
            columns.setdefault(name, np.empty(m, dtype=values.dtype))[rows] = values
    products = [p for _, _, items in _CATALOGUE.values() for p, _ in items]
    return _canonical(
        "transactions",
        {
            "transaction_id": _ids("T", m, 6),
            "customer_id": people.text["customer_id"].gather(purchases.customer),
            "occurred_at": clock.timestamps(purchases.time),
            "amount": columns["amount"],
            "cost": columns["cost"],
            "quantity": columns["quantity"],
            "discount": columns["discount"],
            "product": _labels(products, columns["product"]),
            "category": _labels(list(_CATALOGUE), columns["product"] // _PER_CATEGORY),
            "channel": _labels(_SALES_CHANNELS, columns["channel"]),
            "status": _labels(TRANSACTION_STATUSES, purchases.status),
        },
    )


def _order_lines(
    rng: np.random.Generator, buyers: _Buyers, customer: np.ndarray, number: np.ndarray
) -> dict[str, np.ndarray]:
    """Values of a block of orders: amount, cost, quantity, discount, product and channel indices."""
    m = len(customer)
    amount = rng.standard_gamma(_GG_P, size=m)
    amount /= buyers.spend_rate[customer]
    amount = np.maximum(np.round(amount, 2), 1.0)
    rate = np.where(
        rng.random(m) < buyers.discount_share[customer],
        np.array(_DISCOUNT_RATES)[rng.integers(len(_DISCOUNT_RATES), size=m)],
        0.0,
    )
    discount = np.round(amount * rate / (1 - rate), 2)
    category = _draw_categories(rng, buyers.favourite[customer], number)
    product = (category * _PER_CATEGORY + rng.integers(_PER_CATEGORY, size=m)).astype(np.int8)
    price = np.array([p for _, _, items in _CATALOGUE.values() for _, p in items])[product]
    channel = np.where(
        rng.random(m) < _PREFERRED_CHANNEL_SHARE,
        buyers.channel[customer],
        _choice(rng, np.mean([s.sales_channel for s in _SEGMENTS], axis=0), m),
    ).astype(np.int8)
    return {
        "amount": amount,
        "cost": np.round(amount * _PRODUCT_COGS[product], 2),
        "quantity": np.maximum(1.0, np.round((amount + discount) / price)),
        "discount": discount,
        "product": product,
        "channel": channel,
    }


def _draw_categories(rng: np.random.Generator, favourite: np.ndarray, number: np.ndarray) -> np.ndarray:
    """Category per order: mostly the customer's favourite at first, more variety as they stay.

    The chance to buy outside the favourite category grows from 20 % on the first order to 70 %,
    so loyal customers end up buying across more categories (cross-sell).
    """
    explore = 0.7 - 0.5 * np.exp(-np.arange(200) / 20)  # by purchase number, flat after 200
    other = _choice(rng, [c[1] for c in _CATALOGUE.values()], len(number))
    return np.where(rng.random(len(number)) < explore[np.minimum(number, 199)], other, favourite)


# --------------------------------------------------------------------------------------------
# Interactions
# --------------------------------------------------------------------------------------------


@dataclass
class _Contacts:
    """One row per interaction (unsorted): customer index, time, kind index into _KINDS."""

    customer: np.ndarray
    time: np.ndarray
    kind: np.ndarray


def _draw_interactions(rng: np.random.Generator, people: _People, purchases: _Purchases, clock: _Clock) -> _Contacts:
    """Account-management contacts, support tickets, and tickets that follow refunds.

    Contacts and baseline tickets happen while the customer is active (until 90 days after the last
    purchase); bigger accounts get more contacts, unhappy customers open more tickets, and most
    refunds come with a ticket a day or two later.
    """
    seg = people.segment
    n = len(seg)
    active_end = clock.clip(np.minimum(purchases.last + 90.0, clock.days))
    active = active_end - people.created
    n_contacts = rng.poisson(_seg(seg, "contacts_per_month") * active / 30.4375)
    n_tickets = rng.poisson(_seg(seg, "tickets_per_year") * np.exp(-0.6 * people.satisfaction) * active / 365.25)
    counts = n_contacts + n_tickets
    customer = np.repeat(np.arange(n, dtype=np.int32), counts)
    time = np.repeat(people.created, counts) + rng.random(len(customer)) * np.repeat(active, counts)
    is_ticket = _number_within(counts) >= np.repeat(n_contacts, counts)
    contact_kind = _choice_rows(rng, [s.contact_kinds for s in _SEGMENTS], seg[customer])
    kind = np.where(is_ticket, len(_CONTACT_KINDS), contact_kind)
    refunds = np.flatnonzero((purchases.status == 1) & (rng.random(len(purchases.status)) < 0.7))
    return _Contacts(
        customer=np.concatenate([customer, purchases.customer[refunds]]),
        time=clock.clip(np.concatenate([time, purchases.time[refunds] + rng.exponential(1.5, size=len(refunds))])),
        kind=np.concatenate([kind, np.full(len(refunds), len(_CONTACT_KINDS))]),
    )


def _interactions_frame(
    rng: np.random.Generator, people: _People, contacts: _Contacts, clock: _Clock
) -> pl.DataFrame:
    """Interaction rows sorted by time: channel and outcome by kind, lognormal durations."""
    order = np.argsort(contacts.time)
    cust, time, kind = contacts.customer[order], contacts.time[order], contacts.kind[order]
    m = len(cust)
    channels = sorted({ch for names, _ in _CONTACT_CHANNELS.values() for ch in names})
    channel_weights = [[dict(zip(*_CONTACT_CHANNELS[k])).get(ch, 0.0) for ch in channels] for k in _KINDS]
    duration = np.maximum(1.0, np.round(np.array(_DURATION)[kind] * rng.lognormal(0.0, 0.35, size=m)))
    visit = kind == _KINDS.index("visit")
    travel = np.round(rng.lognormal(np.log(120), 0.5, size=m), 2)
    return _canonical(
        "interactions",
        {
            "interaction_id": _ids("I", m, 6),
            "customer_id": people.text["customer_id"].gather(cust),
            "occurred_at": clock.timestamps(time),
            "kind": _labels(_KINDS, kind),
            "channel": _labels(channels, _choice_rows(rng, channel_weights, kind)),
            "owner": _labels(_OWNER_NAMES, people.owner[cust]),
            "duration_minutes": duration,
            "cost": _where(visit & (rng.random(m) < 0.8), travel),  # travel expenses; other costs come from rates
            "outcome": _labels(_OUTCOMES, _choice_rows(rng, _OUTCOME_WEIGHTS, kind)),
        },
    )


# --------------------------------------------------------------------------------------------
# Feedback
# --------------------------------------------------------------------------------------------


def _feedback_frame(
    rng: np.random.Generator, people: _People, purchases: _Purchases, contacts: _Contacts, clock: _Clock
) -> pl.DataFrame:
    """NPS and CSAT answers from about 30 % of customers, some answering several times.

    Scores follow the customer's satisfaction, lowered further by refunds and tickets.
    """
    n = len(people.segment)
    refunds = np.bincount(purchases.customer[purchases.status == 1], minlength=n)
    tickets = np.bincount(contacts.customer[contacts.kind == len(_CONTACT_KINDS)], minlength=n)
    mood = people.satisfaction - 0.35 * np.log1p(refunds) - 0.25 * np.log1p(tickets)
    tenure_years = (clock.days - people.created) / 365.25
    answers = np.where(rng.random(n) < 0.3, 1 + rng.poisson(0.35 * tenure_years), 0)
    cust = np.repeat(np.arange(n, dtype=np.int32), answers)
    m = len(cust)
    time = clock.clip(people.created[cust] + rng.random(m) * (clock.days - people.created[cust]))
    nps = np.clip(np.round(8.7 + 1.6 * mood[cust] + rng.normal(0, 1.2, size=m)), 0, 10)
    csat = np.clip(np.round(4.2 + 0.7 * mood[cust] + rng.normal(0, 0.6, size=m)), 1, 5)
    u = rng.random(m)  # 70 % answer both questions, 18 % only NPS, 12 % only CSAT
    klass = np.where(nps <= 6, 0, np.where(nps <= 8, 1, 2))
    comment = _comments(rng, klass, rng.random(m) < 0.25)
    order = np.argsort(time)
    return _canonical(
        "feedback",
        {
            "customer_id": people.text["customer_id"].gather(cust[order]),
            "responded_at": clock.timestamps(time[order]),
            "nps": _where((u < 0.88)[order], nps[order]),
            "csat": _where(((u < 0.70) | (u >= 0.88))[order], csat[order]),
            "comment": comment.gather(order),
        },
    )


def _comments(rng: np.random.Generator, klass: np.ndarray, has_comment: np.ndarray) -> pl.Series:
    """A comment matching the NPS class (0 detractor, 1 passive, 2 promoter) where ``has_comment``."""
    pools = list(_COMMENTS.values())
    flat = [c for pool in pools for c in pool]
    offset = np.cumsum([0] + [len(p) for p in pools])[:-1]
    size = np.array([len(p) for p in pools])
    pick = offset[klass] + (rng.random(len(klass)) * size[klass]).astype(np.int64)
    return _where(has_comment, _labels(flat, pick))


# --------------------------------------------------------------------------------------------
# Deals
# --------------------------------------------------------------------------------------------


def _deals_frame(rng: np.random.Generator, people: _People, clock: _Clock) -> pl.DataFrame:
    """Expansion deals of Enterprise and Mid-market accounts, won, lost, or still open at the end.

    Win rate about 30 %: higher from referrals and existing accounts and for satisfied customers.
    """
    seg = people.segment
    n = len(seg)
    tenure = clock.days - people.created
    counts = rng.poisson(_seg(seg, "deals_per_year") * tenure / 365.25)
    cust = np.repeat(np.arange(n, dtype=np.int32), counts)
    m = len(cust)
    created = clock.clip(people.created[cust] + rng.random(m) * tenure[cust])
    cycle = rng.gamma(2.0, _seg(seg, "deal_cycle")[cust] / 2)
    closed = created + cycle
    is_open = closed >= clock.days
    source = _choice(rng, _DEAL_SOURCE_WEIGHTS, m)
    p_win = np.clip(_DEAL_WIN_RATE + np.array(_DEAL_SOURCE_WIN)[source] + 0.06 * people.satisfaction[cust], 0.05, 0.9)
    won = rng.random(m) < p_win
    status = np.where(is_open, 0, np.where(won, 1, 2))  # index into DEAL_STATUSES
    progress = np.minimum((clock.days - created) / cycle, 0.999)
    stage = np.where(is_open, np.floor(progress * len(_OPEN_STAGES)).astype(np.int64), len(_OPEN_STAGES) + (~won))
    amount = np.round(rng.lognormal(np.log(_seg(seg, "deal_size")[cust]), 0.6) / 50) * 50
    order = np.argsort(created)
    return _canonical(
        "deals",
        {
            "deal_id": _ids("D", m, 5),
            "customer_id": people.text["customer_id"].gather(cust[order]),
            "owner": _labels(_OWNER_NAMES, people.owner[cust[order]]),
            "created_at": clock.timestamps(created[order]),
            "closed_at": _where(~is_open[order], clock.timestamps(clock.clip(closed[order]))),
            "stage": _labels((*_OPEN_STAGES, "Closed Won", "Closed Lost"), stage[order]),
            "status": _labels(DEAL_STATUSES, status[order]),
            "amount": amount[order],
            "source": _labels(_DEAL_SOURCES, source[order]),
        },
    )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _seg(segment: np.ndarray, attribute: str) -> np.ndarray:
    """Per-row value of a segment attribute."""
    return np.array([getattr(s, attribute) for s in _SEGMENTS])[segment]


def _choice(rng: np.random.Generator, weights, size: int) -> np.ndarray:
    """``size`` draws of category indices with the given weights (inverse CDF, faster than ``choice``)."""
    cdf = np.cumsum(weights, dtype=np.float64)
    return np.searchsorted(cdf / cdf[-1], rng.random(size), side="right")


def _choice_rows(rng: np.random.Generator, weights, group: np.ndarray) -> np.ndarray:
    """Draw one category per row from the weights of the row's group, vectorized.

    Each group's cumulative distribution is shifted by the group number, so one sorted array
    holds them all and a single ``searchsorted`` draws every row.
    """
    w = np.asarray(weights, dtype=np.float64)
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    k = w.shape[1]
    shifted = (cdf + np.arange(len(w))[:, None]).ravel()
    return np.searchsorted(shifted, rng.random(len(group)) + group, side="right") - group * k


def _coupled(rng: np.random.Generator, values: np.ndarray, driver: np.ndarray, rho: float) -> np.ndarray:
    """Reassign ``values`` to rows so that their ranks correlate with ``driver`` (about ``rho``).

    The marginal distribution of ``values`` is unchanged (a rank coupling, as in a Gaussian copula).
    """
    key = rho * driver + np.sqrt(1 - rho**2) * rng.standard_normal(len(values))
    out = np.empty_like(values)
    out[np.argsort(key)] = np.sort(values)
    return out


def _blocks(ends: np.ndarray) -> list[tuple[int, int]]:
    """Ranges [a, b) of customers with about _BLOCK_ROWS rows each; ``ends`` are cumulative row counts."""
    cuts = np.searchsorted(ends, np.arange(_BLOCK_ROWS, ends[-1], _BLOCK_ROWS), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [len(ends)]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _number_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, … within each run of a repeated index (``np.repeat(..., counts)`` layout)."""
    starts = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - np.repeat(starts, counts)


def _cumsum_within(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each run (the first value of every run must be 0)."""
    total = np.cumsum(values)
    return total - np.repeat(total[np.cumsum(counts) - counts], counts)


def _rank_within(group: np.ndarray) -> np.ndarray:
    """0, 1, … in row order among the rows of each (non-negative integer) group."""
    order = np.argsort(group, kind="stable")
    sizes = np.bincount(group)
    sizes = sizes[sizes > 0]
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = _number_within(sizes)
    return rank


def _pick_in_pool(rng: np.random.Generator, pool: list[np.ndarray], country: np.ndarray) -> np.ndarray:
    """Uniform pick from each row's country pool (see ``_pools``): an index into the flat values."""
    offset, size = pool
    return offset[country] + (rng.random(len(country)) * size[country]).astype(np.int64)


def _where(mask: np.ndarray, values) -> pl.Series:
    """``values`` where ``mask`` holds, null elsewhere."""
    return pl.select(pl.when(pl.Series(mask)).then(pl.Series(values))).to_series()


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    """``prefix`` + zero-padded 1..n, wider when n needs more digits."""
    width = max(width, len(str(n)))
    padded = (pl.int_range(1, n + 1, dtype=pl.Int64) + 10**width).cast(pl.String).str.slice(1)  # fast zero-padding
    return pl.select(pl.concat_str([pl.lit(prefix), padded])).to_series()


def _labels(values, index: np.ndarray) -> pl.Series:
    """Text labels for category indices."""
    return pl.Series(list(values), dtype=pl.String).gather(index)


def _canonical(table: str, columns: dict) -> pl.DataFrame:
    """Frame with exactly the canonical columns of ``table``, in order, typed by column kind."""
    spec = TABLES[table]
    assert set(columns) == set(spec.column_names), set(columns) ^ set(spec.column_names)
    return pl.DataFrame(
        [pl.Series(c.name, columns[c.name]).cast(_DTYPES[c.kind]) for c in spec.columns]
    )
