"""The data-quality report at scale (issue #7): generate dirty customers, load them, run the report.

    python bench/quality.py --customers 1000000

Prints one JSON line per step ({"step", "seconds", "peak_mb", "rss_mb", "rows", ...}, see bench/measure.py).
Target: the report on 1M customers under 60 s on 2 cores.

The data is dirty the way CRM exports are (all vectorised with numpy/Polars, seeded):

* duplicates: ``--dup-rate`` of the records re-register an earlier customer with one or two variations: accents
  dropped ("José Núñez" -> "Jose Nunez"), the first name as an initial ("J. Nunez"), the phone written another
  way ("+44 20 7946 0958" / "020 7946 0958" / "00442079460958" / "442079460958"), the email in capitals or with
  spaces, the legal form dropped from the company; a third of them also change their email (a new mailbox)
  so only name + company + country can find them;
* phones: a mix of international, national, E.164, digits-only and 00 formats; ~2 % invalid;
* emails: ~3 % in capitals or with spaces, ~1 % invalid; countries: ~6 % spelled another way ("USA", "U.S.",
  "Deutschland", "UK"), ~0.5 % unknown; regions: ~1 % in other case;
* transactions: ~2 per customer, 0.3 % orphans, 0.2 % negative amounts not marked as refunds, a few future
  and 1899 (Excel day zero) dates.

``--write-labelled PATH`` writes the customers with their true ``entity`` as CSV (tests/fixtures/quality).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import tracemalloc
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import measure

from crm_core import quality
from crm_core.store import Store, TableLoad

FIRST = np.array([
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William", "Elizabeth", "David",
    "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy",
    "Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra", "Donald", "Ashley", "Steven", "Emily", "Paul", "Donna",
    "Andrew", "Michelle", "Joshua", "Carol", "Kenneth", "Amanda", "Kevin", "Melissa", "Brian", "Deborah", "George",
    "Stephanie", "Timothy", "Rebecca", "Ronald", "Laura", "Jason", "Sharon", "Edward", "Cynthia", "Jeffrey", "Kathleen",
    "Ryan", "Amy", "Jacob", "Angela", "Gary", "Shirley", "Nicholas", "Anna", "Eric", "Brenda", "Jonathan", "Pamela",
    "Stephen", "Emma", "Larry", "Nicole", "Justin", "Helen", "Scott", "Samantha", "Brandon", "Katherine", "Benjamin",
    "Christine", "José", "María", "François", "Zoë", "Jürgen", "Søren", "Łukasz", "Renée", "Inés", "Björn", "Chloé",
    "Agnès", "Müller", "Thérèse", "Andrés", "Mónica", "Hélène", "Jörg", "Åsa", "Noémie", "Raúl", "Lucía", "Bénédicte",
    "Göran", "Íñigo", "Ana", "Lukas", "Felix", "Lena", "Jonas", "Leon", "Mia", "Hannah", "Paul", "Clara", "Marie",
    "Louis", "Camille", "Hugo", "Léa", "Jules", "Alice", "Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "Noah",
    "Olivia", "Liam", "Sofia", "Mateo", "Valentina", "Pablo", "Carmen", "Javier", "Elena", "Diego", "Lucas",
])
_ONSET = ["Bar", "Ber", "Bran", "Cal", "Car", "Dal", "Dun", "Ed", "Fal", "Fer", "Gar", "Gil", "Hal", "Har", "Kel",
          "Ken", "Lan", "Mar", "Mor", "Nor", "Pen", "Ros", "Sal", "Sel", "Tal", "Ther", "Van", "Wal", "Wil", "Yor",
          "Mü", "Gó", "Nú", "Sö", "Bé", "Fér", "Lö", "Ná", "Ro", "Schw"]
_CODA = ["ton", "son", "ley", "man", "field", "well", "wood", "ford", "berg", "stein", "ez", "ini", "elli", "ard",
         "ier", "mann", "holm", "gaard", "sen", "ström", "ñez", "ández", "ière", "dóttir", "ski", "ova", "ek", "ić",
         "ens", "ock", "worth", "by", "ham", "er", "ing", "ott", "ach", "ow", "ane", "quist"]
LAST = np.array([o + c.lower() for o in _ONSET for c in _CODA])  # 1,600 last names
ADJ = np.array(["Alder", "Aspen", "Birch", "Blue", "Cedar", "Crest", "Eagle", "Evergreen", "Granite", "Harbor",
                "Iron", "Juniper", "Lake", "Maple", "North", "Oak", "Pine", "Red", "River", "Sierra", "Silver",
                "Stone", "Summit", "Sun", "Timber", "Valley", "West", "Willow", "Wolf", "Zephyr"])
NOUN = np.array(["Analytics", "Bakery", "Builders", "Clinics", "Consulting", "Foods", "Forge", "Freight", "Health",
                 "Labs", "Logistics", "Media", "Motors", "Outfitters", "Partners", "Robotics", "Solar", "Sports",
                 "Stores", "Studios", "Systems", "Textiles", "Tours", "Trading", "Ventures", "Works"])
FREEMAIL = np.array(["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.de", "proton.me", "hotmail.co.uk"])

# name, iso2, weight, region, country code, trunk prefix, legal form, tld, other spellings
COUNTRIES = [
    ("United States", "US", 0.42, "North America", "1", "", "Inc.", "com", ["USA", "U.S.", "United States of America", "us"]),
    ("Canada", "CA", 0.06, "North America", "1", "", "Ltd.", "ca", ["CAN", "canada"]),
    ("United Kingdom", "GB", 0.15, "Europe", "44", "0", "Ltd", "co.uk", ["UK", "U.K.", "Great Britain", "England"]),
    ("Germany", "DE", 0.14, "Europe", "49", "0", "GmbH", "de", ["Deutschland", "DE", "germany"]),
    ("France", "FR", 0.10, "Europe", "33", "0", "SAS", "fr", ["FR", "Frankreich", "france"]),
    ("Spain", "ES", 0.06, "Europe", "34", "", "S.L.", "es", ["España", "ES", "Espana"]),
    ("Australia", "AU", 0.07, "Asia-Pacific", "61", "0", "Pty Ltd", "com.au", ["AUS", "AU", "australia"]),
]
US_AREAS = np.array([201, 202, 203, 205, 206, 207, 212, 213, 214, 215, 216, 217, 224, 225, 228, 229, 231, 234, 239,
                     240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 281, 301, 302, 303, 304, 305, 307,
                     308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 330, 334, 336, 337, 339,
                     347, 351, 352, 360, 361, 386, 401, 402, 404, 405, 406, 407, 408, 409, 410, 412, 413, 414, 415,
                     417, 419, 423, 424, 425, 432, 434, 435, 440, 443, 469, 478, 479, 480, 484, 501, 502, 503, 504,
                     505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518, 520, 530, 540, 541, 551, 559, 561, 562,
                     563, 567, 570, 571, 573, 574, 575, 580, 585, 586, 601, 602, 603, 605, 606, 607, 608, 609, 610,
                     612, 614, 615, 616, 617, 618, 619, 620, 623, 626, 630, 631, 636, 641, 646, 650, 651, 660, 661,
                     662, 678, 682, 701, 702, 703, 704, 706, 707, 708, 712, 713, 714, 715, 716, 717, 718, 719, 720,
                     724, 727, 731, 732, 734, 740, 754, 757, 760, 763, 765, 770, 772, 773, 774, 775, 781, 785, 786,
                     801, 802, 803, 804, 805, 806, 808, 810, 812, 813, 814, 815, 816, 817, 818, 828, 830, 831, 832,
                     843, 845, 847, 848, 850, 856, 857, 858, 859, 860, 862, 863, 864, 865, 870, 901, 903, 904, 906,
                     907, 908, 909, 910, 912, 913, 914, 915, 916, 917, 918, 919, 920, 925, 928, 931, 936, 937, 940,
                     941, 949, 951, 952, 954, 956, 970, 971, 972, 973, 978, 979, 980, 985, 989])
CA_AREAS = np.array([204, 226, 236, 249, 250, 289, 306, 343, 365, 403, 416, 418, 431, 437, 438, 450, 506, 514, 519,
                     548, 579, 581, 587, 604, 613, 639, 647, 705, 709, 778, 780, 782, 807, 819, 825, 867, 873, 902,
                     905])
END = datetime(2026, 6, 30)


def _digits(rng, n: int, k: int) -> pl.Series:
    return pl.Series(rng.integers(0, 10 ** k, n)).cast(pl.String).str.zfill(k)


def _nsn(rng, iso2: np.ndarray) -> pl.Series:
    """National significant numbers that libphonenumber accepts as valid, per country."""
    n = len(iso2)
    us = pl.Series(US_AREAS[rng.integers(0, len(US_AREAS), n)]).cast(pl.String)
    ca = pl.Series(CA_AREAS[rng.integers(0, len(CA_AREAS), n)]).cast(pl.String)
    exch = pl.Series(rng.integers(200, 1000, n)).cast(pl.String)
    frame = pl.DataFrame({"iso2": iso2, "us": us, "ca": ca, "exch": exch, "d4": _digits(rng, n, 4),
                          "d7": _digits(rng, n, 7), "d8": _digits(rng, n, 8),
                          "lon": pl.Series(rng.choice(["7", "8"], n))})
    return frame.select(
        pl.when(pl.col("iso2") == "US").then(pl.concat_str("us", "exch", "d4"))
        .when(pl.col("iso2") == "CA").then(pl.concat_str("ca", "exch", "d4"))
        .when(pl.col("iso2") == "GB").then(pl.concat_str(pl.lit("20"), "lon", "d7"))
        .when(pl.col("iso2") == "DE").then(pl.concat_str(pl.lit("30"), "d8"))
        .when(pl.col("iso2") == "FR").then(pl.concat_str(pl.lit("1"), "d8"))
        .when(pl.col("iso2") == "ES").then(pl.concat_str(pl.lit("91"), "d7"))
        .otherwise(pl.concat_str(pl.lit("2"), "lon", "d7"))  # AU: Sydney
    ).to_series()


def _render(frame: pl.DataFrame, style: np.ndarray) -> pl.Series:
    """Write numbers (cc, trunk, nsn) in one of five styles: 0 international spaced, 1 national, 2 E.164,
    3 digits only with the country code, 4 00 prefix."""
    f = frame.with_columns(style=pl.Series(style))
    spaced = pl.concat_str(pl.col("nsn").str.slice(0, 3), pl.lit(" "), pl.col("nsn").str.slice(3, 3), pl.lit(" "),
                           pl.col("nsn").str.slice(6))
    return f.select(
        pl.when(pl.col("style") == 0).then(pl.concat_str(pl.lit("+"), "cc", pl.lit(" "), spaced))
        .when(pl.col("style") == 1).then(
            pl.when(pl.col("cc") == "1").then(pl.concat_str(
                pl.lit("("), pl.col("nsn").str.slice(0, 3), pl.lit(") "), pl.col("nsn").str.slice(3, 3), pl.lit("-"),
                pl.col("nsn").str.slice(6)))
            .otherwise(pl.concat_str("trunk", spaced)))
        .when(pl.col("style") == 2).then(pl.concat_str(pl.lit("+"), "cc", "nsn"))
        .when(pl.col("style") == 3).then(pl.concat_str("cc", "nsn"))
        .otherwise(pl.concat_str(pl.lit("00"), "cc", "nsn"))
    ).to_series()


def _ascii(s: pl.Series) -> pl.Series:
    """Accents dropped (the way a form without accents writes a name)."""
    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("Ł", "L").replace("ł", "l"))
        return "".join(ch for ch in text if not unicodedata.combining(ch)).replace("ø", "o").replace("Ø", "O")

    mapping = {v: fold(v) for v in s.unique().drop_nulls().to_list()}
    return s.replace_strict(mapping, default=None)


def generate(customers: int, seed: int = 1, dup_rate: float = 0.03) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(customers with their true ``entity``, transactions): ``customers`` rows of which ``dup_rate`` are
    re-registrations of earlier customers."""
    rng = np.random.default_rng(seed)
    n_dup = round(customers * dup_rate)
    n = customers - n_dup  # distinct people
    weights = np.array([c[2] for c in COUNTRIES])
    ci = rng.choice(len(COUNTRIES), n, p=weights / weights.sum())
    col = {k: np.array([c[i] for c in COUNTRIES]) for i, k in enumerate(
        ("country", "iso2", "w", "region", "cc", "trunk", "legal", "tld"))}
    first = pl.Series(FIRST[rng.integers(0, len(FIRST), n)])
    last = pl.Series(LAST[rng.integers(0, len(LAST), n)])
    business = rng.random(n) < 0.65
    company_core = pl.Series(np.char.add(np.char.add(ADJ[rng.integers(0, len(ADJ), n)], " "),
                                         np.char.add(np.char.add(ADJ[rng.integers(0, len(ADJ), n)], " "),
                                                     NOUN[rng.integers(0, len(NOUN), n)])))
    base = pl.DataFrame({
        "entity": np.arange(n), "first": first, "last": last, "iso2": col["iso2"][ci], "cc": col["cc"][ci],
        "trunk": col["trunk"][ci], "country": col["country"][ci], "region": col["region"][ci],
        "business": business, "core": company_core, "legal": col["legal"][ci], "tld": col["tld"][ci],
        "freemail": FREEMAIL[rng.integers(0, len(FREEMAIL), n)], "suffix": rng.integers(1, 99, n),
    }).with_columns(nsn=_nsn(rng, col["iso2"][ci]))
    base = base.with_columns(
        company=pl.when("business").then(pl.concat_str("core", pl.lit(" "), "legal")),
        local=pl.concat_str(_ascii(base["first"]).str.to_lowercase(), pl.lit("."),
                            _ascii(base["last"]).str.to_lowercase()).str.replace_all(r"[^a-z.]", ""),
    ).with_columns(
        email=pl.when("business").then(pl.concat_str(
            "local", pl.lit("@"), pl.col("core").str.to_lowercase().str.replace_all(" ", ""), pl.lit("."), "tld"))
        .otherwise(pl.concat_str("local", pl.col("suffix").cast(pl.String), pl.lit("@"), "freemail")),
        name=pl.concat_str("first", pl.lit(" "), "last"),
    )
    base = base.with_columns(phone=_render(base, rng.choice(5, n, p=[0.5, 0.2, 0.15, 0.1, 0.05])))

    # re-registrations of earlier people, each with one or two variations
    src = rng.integers(0, n, n_dup)
    dup = base[src]
    v = rng.random((n_dup, 6))
    first_out = pl.when(pl.Series(v[:, 1] < 0.3)).then(
        pl.concat_str(_ascii(dup["first"]).str.slice(0, 1), pl.lit("."))).otherwise(_ascii(dup["first"]))
    dup = dup.with_columns(
        name=pl.when(pl.Series(v[:, 0] < 0.5)).then(pl.concat_str(first_out, pl.lit(" "), _ascii(dup["last"])))
        .otherwise(pl.concat_str(pl.when(pl.Series(v[:, 1] < 0.3)).then(
            pl.concat_str(pl.col("first").str.slice(0, 1), pl.lit("."))).otherwise("first"), pl.lit(" "), "last")),
        phone=_render(dup, rng.choice(5, n_dup)),
        email=pl.when(pl.Series(v[:, 2] < 0.35)).then(pl.col("email").str.to_uppercase())
        .when(pl.Series(v[:, 2] < 0.5)).then(pl.concat_str(pl.lit(" "), "email", pl.lit(" ")))
        .when(pl.Series(v[:, 2] < 0.85)).then("email")
        # a new mailbox: only name + company + country (or the phone) can find these
        .otherwise(pl.concat_str("local", pl.lit("."), pl.col("suffix").cast(pl.String), pl.lit("@"),
                                 pl.lit("newmail.example"))),
        company=pl.when(pl.Series(v[:, 3] < 0.4)).then("core").otherwise("company"),
    ).with_columns(phone=pl.when(pl.Series(v[:, 4] < 0.15)).then(None).otherwise("phone"))
    keep = ["entity", "name", "email", "phone", "company", "country", "region", "iso2"]
    people = pl.concat([base.select(keep), dup.select(keep)])
    order = rng.permutation(people.height)  # duplicates anywhere in the list
    people = people[order]
    m = people.height
    r = rng.random((m, 5))
    variants = {c[0]: c[8] for c in COUNTRIES}
    vmap = pl.DataFrame({"country": [k for k, vs in variants.items() for _ in vs],
                         "variant": [x for vs in variants.values() for x in vs],
                         "k": [i for vs in variants.values() for i in range(len(vs))]})
    people = people.with_columns(
        k=pl.Series(rng.integers(0, 4, m)), spell=pl.Series(r[:, 0] < 0.06), unknown=pl.Series(r[:, 0] > 0.995),
    ).join(vmap, on=["country", "k"], how="left", maintain_order="left").with_columns(
        country=pl.when("unknown").then(pl.lit("N/A"))
        .when(pl.col("spell") & pl.col("variant").is_not_null()).then("variant").otherwise("country"),
        region=pl.when(pl.Series(r[:, 1] < 0.01)).then(pl.col("region").str.to_uppercase()).otherwise("region"),
        email=pl.when(pl.Series(r[:, 2] < 0.01)).then(pl.col("email").str.replace("@", " at "))
        .when(pl.Series(r[:, 2] < 0.03)).then(pl.col("email").str.to_uppercase())
        .when(pl.Series(r[:, 2] > 0.99)).then(None).otherwise("email"),
        phone=pl.when(pl.Series(r[:, 3] < 0.02)).then(pl.col("phone").str.slice(0, 6))
        .when(pl.Series(r[:, 3] > 0.98)).then(None).otherwise("phone"),
    )
    width = len(str(m))
    customers_frame = people.select(
        customer_id=pl.format("C{}", pl.int_range(1, m + 1).cast(pl.String).str.zfill(width)),
        entity="entity", name="name", email="email", phone="phone", company="company", country="country",
        region="region",
        created_at=pl.Series((rng.uniform(0, 3 * 365, m) * 86_400_000_000).astype("int64")).cast(pl.Duration("us"))
        + (END - timedelta(days=3 * 365)),
    )
    # transactions: ~2 per customer
    per = rng.poisson(1.0, m) + 1
    t = int(per.sum())
    owner = np.repeat(np.arange(m), per)
    cust = customers_frame["customer_id"].gather(owner)
    orphan = rng.random(t) < 0.003
    rt = rng.random(t)
    day = rng.uniform(0, 3 * 365, t)
    occurred = (pl.Series((day * 86_400_000_000).astype("int64")).cast(pl.Duration("us"))
                + (END - timedelta(days=3 * 365)))
    tx = pl.DataFrame({
        "transaction_id": pl.Series(np.arange(1, t + 1)).cast(pl.String).str.zfill(len(str(t))),
        "customer_id": pl.select(pl.when(pl.Series(orphan)).then(pl.concat_str(pl.lit("X"), cust))
                                 .otherwise(cust)).to_series(),
        "occurred_at": occurred,
        "amount": np.round(rng.gamma(2.0, 60.0, t), 2) * np.where(rt < 0.002, -1, 1),
        "status": np.where(rt > 0.97, "refunded", "completed"),
    }).with_columns(
        amount=pl.when(pl.col("status") == "refunded").then(-pl.col("amount").abs()).otherwise("amount"),
        occurred_at=pl.when(pl.Series(rng.random(t) < 0.0005)).then(pl.lit(datetime(2031, 1, 1)))
        .when(pl.Series(rng.random(t) < 0.0002)).then(pl.lit(datetime(1899, 12, 30))).otherwise("occurred_at"),
    )
    return customers_frame, tx


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the phone workers): a figure a busy machine does not
    inflate the way it inflates wall-clock seconds."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def pairs_of(labels: pl.DataFrame, by: str) -> set[tuple[str, str]]:
    """Every unordered pair of customer ids that share a value of ``by``."""
    groups = labels.group_by(by).agg(pl.col("customer_id").sort()).filter(pl.col("customer_id").list.len() > 1)
    out = set()
    for ids in groups["customer_id"].to_list():
        out |= {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dup-rate", type=float, default=0.03)
    ap.add_argument("--db", default=None, help="database file (default: a temporary one)")
    ap.add_argument("--write-labelled", default=None, help="write the customers with their entity as CSV and stop")
    args = ap.parse_args(argv)
    tracemalloc.start()
    with measure("generate", args.customers, {}):
        customers, tx = generate(args.customers, args.seed, args.dup_rate)
    if args.write_labelled:
        customers.drop("created_at").write_csv(args.write_labelled)
        print(args.write_labelled)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "quality.duckdb")
        with Store(db) as store:
            with measure("load", customers.height + tx.height, {"transactions": tx.height}):
                ds = store.load("bench", [TableLoad("customers", customers.drop("entity"), "customers.csv"),
                                          TableLoad("transactions", tx, "transactions.csv")]).dataset_id
            out: dict = {}
            cpu = cpu_seconds()
            with measure("report", customers.height, out):
                report = quality.build_report(store, ds)
                out |= {"cpu_seconds": round(cpu_seconds() - cpu, 1), "score": round(report.score, 2),
                        "counts": report.counts, "stats": report.stats, "phone_region": report.phone_region}
            truth = pairs_of(customers.select("customer_id", "entity"), "entity")
            found = pairs_of(report.clusters.select("customer_id", "cluster"), "cluster")
            hit = len(truth & found)
            print(json.dumps({
                "step": "duplicates_accuracy", "true_pairs": len(truth), "found_pairs": len(found),
                "precision": round(hit / len(found), 4) if found else None,
                "recall": round(hit / len(truth), 4) if truth else None,
            }), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
