"""Turn raw export columns into typed values (DESIGN.md §5).

Every parser takes one column as a Polars Series and returns a :class:`ParseResult`.
Columns come as strings from CSV files, or already typed (numbers, dates) from XLSX and
Parquet; both are accepted. Work is vectorized: regular expressions and casts run over the
whole column, and formats (decimal separator, day/month order) are decided once per column,
never row by row.

A cell that is empty, blank or a filler such as ``-``, ``n/a`` or ``null`` becomes null
and is not an error. A non-empty cell that cannot be read becomes null and its 0-based index
is listed in ``bad_rows``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

__all__ = [
    "ParseResult",
    "clean_text",
    "deal_status_from_stage",
    "parse_bool",
    "parse_dates",
    "parse_deal_status",
    "parse_integer",
    "parse_money",
    "parse_number",
    "parse_transaction_status",
]


@dataclass
class ParseResult:
    """A parsed column.

    Attributes
    ----------
    values
        Typed output, same length and name as the input; null where the cell was empty or bad.
    bad_rows
        0-based indices of rows whose non-empty value could not be read.
    note
        One sentence on the decision made for the column (shown to the user), if any.
    ambiguous
        True when the format could not be decided from the values (the user should confirm).
    currencies
        Money only: ISO 4217 codes seen in the good rows, from symbols or codes.
    """

    values: pl.Series
    bad_rows: list[int]
    note: str | None = None
    ambiguous: bool = False
    currencies: set[str] = field(default_factory=set)


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

#: Cell contents (after trimming, lower-cased) that mean "no value".
EMPTY_TOKENS = ("", "-", "--", "—", "–", "n/a", "na", "null", "none", "nan", "nat")


def _text(s: pl.Series) -> pl.Series:
    """The column as trimmed strings, with empty cells and fillers such as "n/a" as null."""
    text = s.cast(pl.String).str.strip_chars()
    return text.set(text.str.to_lowercase().is_in(EMPTY_TOKENS), None)


def _eval(s: pl.Series, expr: pl.Expr) -> pl.Series:
    """Evaluate ``expr`` (written over ``pl.col("v")``) on ``s``, keeping the name of ``s``."""
    return s.to_frame("v").select(expr).to_series().alias(s.name)


def _result(present: pl.Series, values: pl.Series, **kwargs) -> ParseResult:
    """Build a result, listing rows that had a value but parsed to null as bad."""
    bad = (present & values.is_null()).arg_true().to_list()
    return ParseResult(values=values, bad_rows=bad, **kwargs)


def _example(text: pl.Series, mask: pl.Series) -> str | None:
    """The first value of ``text`` where ``mask`` holds, to quote in a note."""
    hits = text.filter(mask.fill_null(False))
    return hits[0] if len(hits) else None


def _normalize_words(text: pl.Series) -> pl.Series:
    """Lower-case, drop accents, turn ``_ - /`` and runs of spaces into one space."""
    return (
        text.str.to_lowercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.replace_all(r"[\s_\-/]+", " ")
        .str.strip_chars()
    )


def _lookup(s: pl.Series, mapping: dict[str, str] | dict[str, bool], dtype: pl.DataType) -> ParseResult:
    """Map normalized words through ``mapping``; non-empty words not in it are bad."""
    text = _text(s)
    values = _normalize_words(text).replace_strict(mapping, default=None, return_dtype=dtype)
    return _result(text.is_not_null(), values.alias(s.name))


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def clean_text(s: pl.Series) -> pl.Series:
    """Trimmed strings with empty cells as null.

    Whole floats (Excel stores ids such as ``123`` as ``123.0``) are written without the
    ``.0``; NaN becomes null. Other types are cast to their string form.
    """
    if s.dtype.is_float():
        v = pl.col("v")
        whole = v.is_finite() & (v == v.round(0)) & (v.abs() < 2**53)
        s = _eval(
            s,
            pl.when(whole)
            .then(v.cast(pl.Int64, strict=False).cast(pl.String))
            .when(v.is_finite())
            .then(v.cast(pl.String)),
        )
    text = s.cast(pl.String).str.strip_chars()
    return text.set(text == "", None)


# ---------------------------------------------------------------------------------------------
# Money and numbers
# ---------------------------------------------------------------------------------------------

#: Currency symbols, longest first where one is the end of another.
CURRENCY_SYMBOLS = {
    "US$": "USD",
    "CA$": "CAD",
    "AU$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "C$": "CAD",
    "A$": "AUD",
    "S$": "SGD",
    "R$": "BRL",
    "$": "USD",  # ambiguous across dollar countries; read as USD
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
}
_SYMBOL_RE = "|".join(sym.replace("$", r"\$") for sym in CURRENCY_SYMBOLS)

#: Active ISO 4217 codes accepted when written in a cell ("USD 12", "12 EUR").
ISO_CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    """.split()
)

# A number once currency and sign are removed: digits with "." "," and grouping spaces/quotes.
_GROUPING = r"\s'’"
_VALID = {
    ".": rf"^(?:(?:\d{{1,3}}(?:[,{_GROUPING}]\d{{3}})+|\d+)(?:\.\d*)?|\.\d+)$",
    ",": rf"^(?:(?:\d{{1,3}}(?:[.{_GROUPING}]\d{{3}})+|\d+)(?:,\d*)?|,\d+)$",
}
_STYLE = {
    ".": "'.' as decimal and ',' as thousands separator (1,234.50)",
    ",": "',' as decimal and '.' as thousands separator (1.234,50)",
}
_UNWRAP = r"^\((.*)\)$"  # (12.00) is negative


def _split_amounts(text: pl.Series, with_currency: bool) -> pl.DataFrame:
    """Split cells into ``number`` (bare digits and separators), ``negative`` and ``currency``.

    Parentheses and a leading or trailing minus make a value negative. With ``with_currency``,
    one currency symbol and one ISO code are taken off and mapped to ``currency``; without
    it they stay in ``number``, which then fails validation.
    """
    t, rest = pl.col("t"), pl.col("rest")
    frame = text.to_frame("t").with_columns(
        paren=t.str.contains(_UNWRAP), rest=t.str.replace(_UNWRAP, "$1"), currency=pl.lit(None, pl.String)
    )
    if with_currency:
        frame = frame.with_columns(
            symbol=rest.str.extract(f"({_SYMBOL_RE})", 1), rest=rest.str.replace(_SYMBOL_RE, "")
        ).with_columns(code=rest.str.extract(r"([A-Za-z]+)", 1).str.to_uppercase())
        is_code = pl.col("code").is_in(ISO_CURRENCIES)
        frame = frame.with_columns(
            rest=pl.when(is_code).then(rest.str.replace(r"[A-Za-z]+", "")).otherwise(rest),
            currency=pl.when(is_code)
            .then(pl.col("code"))
            .otherwise(pl.col("symbol").replace_strict(CURRENCY_SYMBOLS, default=None, return_dtype=pl.String)),
        )
    rest = rest.str.strip_chars()
    return frame.select(
        number=rest.str.replace(r"^[-−+]\s*", "").str.replace(r"\s*[-−]$", ""),
        negative=pl.col("paren") | rest.str.contains(r"^[-−]|[-−]$"),
        currency=pl.col("currency"),
    )


def _separator_evidence(number: pl.Series) -> pl.DataFrame:
    """Per cell, whether it proves or hints that "." or "," is the decimal separator.

    Proof: both separators present (the last one is decimal), a lone separator not followed by
    exactly three digits ("12,5", "12.50"), or one separator repeated ("1.234.567").
    Hint: a lone separator followed by exactly three digits ("42,000", "1.234"), which reads
    as a thousands separator.
    """
    g = pl.col("n").str.replace_all(f"[{_GROUPING}]", "")
    dots, commas = g.str.count_matches(".", literal=True), g.str.count_matches(",", literal=True)
    only_dot, only_comma = (dots == 1) & (commas == 0), (commas == 1) & (dots == 0)
    dot_group, comma_group = g.str.contains(r"^\d{1,3}\.\d{3}$"), g.str.contains(r"^\d{1,3},\d{3}$")
    both = (dots > 0) & (commas > 0)
    last_dot, last_comma = both & g.str.contains(r"\.\d*$"), both & g.str.contains(r",\d*$")
    return (
        number.to_frame("n")
        .select(
            proves_dot=(only_dot & ~dot_group) | ((commas > 1) & (dots == 0)) | last_dot,
            proves_comma=(only_comma & ~comma_group) | ((dots > 1) & (commas == 0)) | last_comma,
            hints_dot=only_comma & comma_group,
            hints_comma=only_dot & dot_group,
        )
        .fill_null(False)
    )


def _decide_decimal(text: pl.Series, number: pl.Series, forced: str | None) -> tuple[str, str | None, bool]:
    """Choose the column's decimal separator.

    Returns
    -------
    separator, note, ambiguous
        Values that prove a separator win over values that only hint at one; when both
        separators are proven the majority wins (a tie is ambiguous). With no evidence at all
        "." is used and no note is given.
    """
    if forced is not None:
        if forced not in _VALID:
            raise ValueError(f"decimal must be '.' or ',', not {forced!r}")
        return forced, f"numbers read with {_STYLE[forced]}, as chosen", False
    ev = _separator_evidence(number)
    reasons = ("can only be read that way", "looks like it and no value shows otherwise")
    for dot, comma, why in (("proves_dot", "proves_comma", reasons[0]), ("hints_dot", "hints_comma", reasons[1])):
        n_dot, n_comma = int(ev[dot].sum()), int(ev[comma].sum())
        if n_dot == 0 and n_comma == 0:
            continue
        sep, mask = (".", ev[dot]) if n_dot >= n_comma else (",", ev[comma])
        if n_dot and n_comma:
            ambiguous = n_dot == n_comma
            note = (
                f"numbers are written in both styles ({n_dot} with '.' and {n_comma} with ',' as decimal); "
                f"read with {_STYLE[sep]}, values in the other style are reported"
            )
            return sep, note, ambiguous
        return sep, f"numbers read with {_STYLE[sep]}: {_example(text, mask)!r} {why}", False
    return ".", None, False


def _present(s: pl.Series) -> pl.Series:
    """Which cells hold a value (not null, NaN, blank or a filler such as "n/a")."""
    if s.dtype.is_float():
        return s.is_not_null() & ~s.is_nan()
    if s.dtype.is_numeric():
        return s.is_not_null()
    return _text(s).is_not_null()


def _parse_decimal(s: pl.Series, decimal: str | None, with_currency: bool) -> ParseResult:
    """Shared body of :func:`parse_money` and :func:`parse_number`."""
    if s.dtype.is_numeric():
        return ParseResult(s.cast(pl.Float64).fill_nan(None), [])
    text = _text(s)
    parts = _split_amounts(text, with_currency)
    sep, note, ambiguous = _decide_decimal(text, parts["number"], decimal)
    thousands = "," if sep == "." else r"\."
    n = pl.col("number")
    magnitude = n.str.replace_all(f"[{thousands}{_GROUPING}]", "").str.replace(sep, ".", literal=True)
    values = parts.select(
        pl.when(n.str.contains(_VALID[sep]))
        .then(magnitude.cast(pl.Float64, strict=False) * pl.when(pl.col("negative")).then(-1.0).otherwise(1.0))
    ).to_series()
    currencies = set(parts["currency"].filter(values.is_not_null()).drop_nulls().unique().to_list())
    return _result(text.is_not_null(), values.alias(s.name), note=note, ambiguous=ambiguous, currencies=currencies)


def parse_money(s: pl.Series, decimal: str | None = None) -> ParseResult:
    """Parse amounts such as ``$1,234.50``, ``1.234,50 €``, ``(12.00)`` or ``USD 1'234.50``.

    Parameters
    ----------
    s
        Raw column; numeric columns pass through as Float64.
    decimal
        Force the decimal separator (``"."`` or ``","``); by default it is decided from the
        whole column (see :func:`_decide_decimal`).

    Returns
    -------
    ParseResult
        Float64 values; ``currencies`` holds the ISO codes of the symbols (``$`` is read as
        USD) and codes found in good rows.
    """
    return _parse_decimal(s, decimal, with_currency=True)


def parse_number(s: pl.Series) -> ParseResult:
    """Parse quantities and durations with the separator rules of :func:`parse_money`.

    Currency marks are not allowed: a cell carrying one is bad.
    """
    return _parse_decimal(s, None, with_currency=False)


def parse_integer(s: pl.Series, bounds: tuple[float, float] | None = None) -> ParseResult:
    """Parse whole numbers such as scores (``"9"``, ``"9.0"`` and ``9.0`` all give 9).

    Values with a fraction, and values outside the inclusive ``bounds``, are bad.
    """
    number = parse_number(s)
    v = pl.col("v")
    ok = v == v.round(0)
    if bounds is not None:
        ok &= v.is_between(*bounds, closed="both")
    values = _eval(number.values, pl.when(ok).then(v.cast(pl.Int64, strict=False)))
    return _result(_present(s), values, note=number.note, ambiguous=number.ambiguous)


# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

DATETIME = pl.Datetime("us")
EXCEL_EPOCH = datetime(1899, 12, 30)
#: Numbers read as Excel serial days (1954-10-03 .. 2119-01-10).
EXCEL_SERIAL_RANGE = (20_000, 80_000)

MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}

# Optional time after a date: "10:20", "10:20:00.123", "10:20 AM", with an optional UTC offset.
_TIME = (
    r"(?:(?:[T\s,]+|\s+at\s+)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<sec>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
    r"\s*(?:(?P<ampm>[AaPp])\.?[Mm]\.?)?\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_WEEKDAY = r"(?:[A-Za-z]{3,9},?\s+)?"
_PATTERNS = {
    "iso": r"^(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})" + _TIME,
    "numeric": r"^(?P<first>\d{1,2})(?P<sep>[/.\-])(?P<mid>\d{1,2})(?P<sep2>[/.\-])(?P<year>\d{4}|\d{2})" + _TIME,
    "month_day": rf"^{_WEEKDAY}(?P<mon>[A-Za-z]{{3,9}})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
    r"(?P<year>\d{4})" + _TIME,
    "day_month": rf"^{_WEEKDAY}(?P<day>\d{{1,2}})(?:st|nd|rd|th)?[\s\-]+(?P<mon>[A-Za-z]{{3,9}})\.?,?[\s\-]+"
    r"(?P<year>\d{4}|\d{2})" + _TIME,
    "serial": r"^\d{5}(?:\.\d+)?$",
}


@dataclass(frozen=True)
class _Candidate:
    """One way of reading a text column as dates."""

    values: pl.Series
    note: str
    ambiguous: bool = False

    @property
    def parsed(self) -> int:
        return len(self.values) - self.values.null_count()


def _groups(text: pl.Series, pattern: str) -> pl.DataFrame:
    """Named groups of ``pattern`` as string columns, null where a cell does not match."""
    return text.str.extract_groups(pattern).struct.unnest()


def _full_year(year: pl.Expr) -> pl.Expr:
    """Four-digit year; two digits mean 20yy below 70 and 19yy from 70."""
    yy = year.cast(pl.Int32, strict=False)
    short = year.str.len_chars() == 2
    return pl.when(short & (yy < 70)).then(yy + 2000).when(short).then(yy + 1900).otherwise(yy)


def _assemble(parts: pl.DataFrame, year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Series:
    """Build naive UTC datetimes from year/month/day expressions and the time groups of ``_TIME``.

    Impossible dates (31 April) and times (25:00, 13 PM) give null. A UTC offset is
    subtracted so that all values are UTC.
    """
    date = pl.concat_str(
        [_full_year(year).cast(pl.String).str.zfill(4), month.str.zfill(2), day.str.zfill(2)], separator="-"
    ).str.to_date("%Y-%m-%d", strict=False)
    hour = pl.col("hour").cast(pl.Int32).fill_null(0)
    minute = pl.col("minute").cast(pl.Int32).fill_null(0)
    sec = pl.col("sec").cast(pl.Int32).fill_null(0)
    micro = pl.col("frac").str.slice(0, 6).str.pad_end(6, "0").cast(pl.Int64).fill_null(0)
    ampm = pl.col("ampm").str.to_lowercase()
    hour24 = (
        pl.when(ampm.is_null()).then(hour).when(ampm == "a").then(hour % 12).otherwise(hour % 12 + 12)
    )
    time_ok = (
        pl.when(ampm.is_null()).then(hour < 24).otherwise(hour.is_between(1, 12)) & (minute < 60) & (sec < 60)
    )
    tz = pl.col("tz").str.extract_groups(r"(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?")
    offset = (
        tz.struct.field("hh").cast(pl.Int32) * 60 + tz.struct.field("mm").cast(pl.Int32).fill_null(0)
    ) * pl.when(tz.struct.field("sign") == "-").then(-1).otherwise(1)
    moment = date.cast(DATETIME) + pl.duration(
        hours=hour24, minutes=minute - offset.fill_null(0), seconds=sec, microseconds=micro
    )
    return parts.select(pl.when(time_ok).then(moment)).to_series()


def _serial_to_datetime(days: pl.Expr) -> pl.Expr:
    """Excel serial day numbers (fractions are the time of day, kept to the millisecond)."""
    low, high = EXCEL_SERIAL_RANGE
    millis = (days * 86_400_000).round(0).cast(pl.Int64)
    moment = pl.lit(EXCEL_EPOCH, DATETIME) + pl.duration(milliseconds=millis)
    return pl.when(days.is_between(low, high)).then(moment)


def _offset_note(note: str, *parts: pl.DataFrame) -> str:
    """``note``, saying so when some times carried a UTC offset."""
    if any(p["tz"].is_not_null().any() for p in parts):
        return note + "; times with a UTC offset converted to UTC"
    return note


def _iso_dates(text: pl.Series) -> _Candidate:
    parts = _groups(text, _PATTERNS["iso"])
    values = _assemble(parts, pl.col("year"), pl.col("month"), pl.col("day"))
    return _Candidate(values, _offset_note("dates read as year-month-day (ISO)", parts))


def _named_month_dates(text: pl.Series) -> _Candidate:
    """Dates with English month names, "Mar 5, 2024" or "05 Mar 2024" (either order)."""
    month = pl.col("mon").str.to_lowercase().replace_strict(MONTHS, default=None, return_dtype=pl.String)
    month_day, day_month = (_groups(text, _PATTERNS[key]) for key in ("month_day", "day_month"))
    values = _assemble(month_day, pl.col("year"), month, pl.col("day")).fill_null(
        _assemble(day_month, pl.col("year"), month, pl.col("day"))
    )
    note = f"dates read with English month names, as in {_example(text, values.is_not_null())!r}"
    return _Candidate(values, _offset_note(note, month_day, day_month))


_SERIAL_NOTE = "dates read as Excel serial day numbers (days since 1899-12-30)"


def _serial_dates(text: pl.Series) -> _Candidate:
    days = pl.when(pl.col("t").str.contains(_PATTERNS["serial"])).then(pl.col("t").cast(pl.Float64, strict=False))
    values = text.to_frame("t").select(_serial_to_datetime(days)).to_series()
    return _Candidate(values, _SERIAL_NOTE)


def _numeric_dates(text: pl.Series, dayfirst: bool | None) -> _Candidate:
    """Dates such as 05/03/2024, 3/5/24 or 05.03.2024, with the day/month order decided per column.

    The order that reads more values wins: a first part above 12 means day-first, a second
    part above 12 means month-first. When both orders read the same values (every part is
    12 or less) the column is ambiguous and ``dayfirst`` decides, else the separator
    (dots and dashes: day-first; slashes: month-first). ``dayfirst`` given always decides.
    """
    parts = _groups(text, _PATTERNS["numeric"])
    same_sep = pl.col("sep") == pl.col("sep2")  # 05/03-2024 is not a date
    parts = parts.with_columns(pl.when(same_sep).then(pl.col(name)).alias(name) for name in ("first", "mid"))
    first, mid, year = pl.col("first"), pl.col("mid"), pl.col("year")
    by_order = {True: _assemble(parts, year, mid, first), False: _assemble(parts, year, first, mid)}
    labels = {True: "day/month/year (EU)", False: "month/day/year (US)"}
    counts = {order: len(v) - v.null_count() for order, v in by_order.items()}
    if dayfirst is not None:
        return _Candidate(by_order[dayfirst], _offset_note(f"dates read as {labels[dayfirst]}, as chosen", parts))
    if counts[True] != counts[False]:
        order = counts[True] > counts[False]
        example = _example(text, by_order[order].is_not_null() & by_order[not order].is_null())
        note = f"dates read as {labels[order]}: {example!r} only fits that order"
        return _Candidate(by_order[order], _offset_note(note, parts))
    slashes = (parts["sep"] == "/").sum()
    order = slashes * 2 < parts["sep"].count()
    reason = "slashes usually mean month first" if not order else "dots and dashes usually mean day first"
    note = f"day and month order cannot be told from the values; read as {labels[order]} ({reason}), please check"
    return _Candidate(by_order[order], _offset_note(note, parts), ambiguous=counts[True] > 0)


def _typed_dates(s: pl.Series) -> pl.Series:
    """Date or Datetime column as naive UTC ``Datetime("us")``."""
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone is not None:
        s = s.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return s.cast(DATETIME)


def parse_dates(s: pl.Series, dayfirst: bool | None = None) -> ParseResult:
    """Parse dates and times into naive UTC ``Datetime("us")`` values.

    Accepted: ISO (``2024-03-05``, ``2024-03-05T10:20:00Z``, ``2024-03-05 10:20:00 -0500``),
    numeric day/month or month/day (``03/05/2024``, ``3/5/24 10:20 AM``, ``05.03.2024``,
    ``5-3-2024``), English month names (``Mar 5, 2024``, ``05 Mar 2024``) and Excel serial
    numbers (``45292`` is 2024-01-01), as numbers or text. Date and Datetime columns pass
    through (time zones converted to UTC).

    The format is decided once for the whole column: the candidate that reads the most values
    wins, and rows it cannot read are bad. Day/month order: see :func:`_numeric_dates`.

    Parameters
    ----------
    s
        Raw column.
    dayfirst
        Force day-first (True) or month-first (False) for numeric dates.
    """
    if s.dtype in (pl.Date, pl.Datetime):
        return ParseResult(_typed_dates(s), [])
    if s.dtype.is_numeric():
        days = s.cast(pl.Float64).fill_nan(None)
        values = _eval(days, _serial_to_datetime(pl.col("v")))
        return _result(days.is_not_null(), values, note=_SERIAL_NOTE)
    text = _text(s)
    present = text.is_not_null()
    readers = (_iso_dates, lambda t: _numeric_dates(t, dayfirst), _named_month_dates, _serial_dates)
    best = _Candidate(pl.repeat(None, len(s), dtype=DATETIME, eager=True), "")
    for read in readers:  # the first candidate wins a tie; one that reads every value ends the search
        candidate = read(text)
        if candidate.parsed > best.parsed:
            best = candidate
        if best.parsed == present.sum():
            break
    if best.parsed == 0:
        note = "no date format fits these values" if present.any() else None
        return _result(present, best.values.alias(s.name), note=note)
    values, note = _fill_unambiguous(text, present, best)
    return _result(present, values.alias(s.name), note=note, ambiguous=best.ambiguous)


def _fill_unambiguous(text: pl.Series, present: pl.Series, best: _Candidate) -> tuple[pl.Series, str]:
    """Rows the column's format cannot read, read as ISO or with month names where they fit.

    Those two forms can only be read one way, so accepting them beside the column's format guesses
    nothing (a Zoho export can hold "Mar 5, 2024" and "2024-03-05" in one column); the day/month
    order is still decided once for the whole column.
    """
    values = best.values
    missing = int((present & values.is_null()).sum())
    if missing == 0:
        return values, best.note
    extra = []
    for read in (_iso_dates, _named_month_dates):
        filled = values.fill_null(read(text).values)
        gained = int(filled.is_not_null().sum() - values.is_not_null().sum())
        if gained:
            values = filled
            extra.append("year-month-day" if read is _iso_dates else "month-name")
    if not extra:
        return values, best.note
    return values, f"{best.note}; some rows in {' and '.join(extra)} form, read as such"


# ---------------------------------------------------------------------------------------------
# Statuses and booleans
# ---------------------------------------------------------------------------------------------


def _invert(groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """``{status: (word, ...)}`` to ``{word: status}``."""
    return {word: status for status, words in groups.items() for word in words}


#: Normalized words (lower case, no accents, "_-/" as spaces) -> transaction status.
TRANSACTION_STATUS_WORDS = _invert(
    {
        "completed": (
            # Shopify financial statuses
            "paid", "pending", "authorized", "partially paid",
            # generic
            "completed", "complete", "closed", "fulfilled", "shipped", "delivered", "success", "successful",
        ),
        "refunded": ("refunded", "partially refunded", "refund", "returned", "return"),
        "cancelled": ("cancelled", "canceled", "void", "voided", "expired"),
    }
)  # fmt: skip

_WON = ("won", "win", "closed won", "closedwon", "gewonnen", "gagne", "gagnee", "ganado", "ganada")
_LOST = ("lost", "lose", "closed lost", "closedlost", "verloren", "perdu", "perdue", "perdido", "perdida")
#: Normalized words -> deal status, for status columns (Pipedrive "won", Zoho "Closed Won").
DEAL_STATUS_WORDS = _invert(
    {
        "won": _WON,
        "lost": _LOST,
        "open": ("open", "in progress", "offen", "ouvert", "ouverte", "abierto", "abierta"),
    }
)

BOOL_WORDS = _invert(
    {
        True: ("true", "t", "yes", "y", "1", "1.0", "x", "on", "checked", "✓", "✔", "ja", "oui", "si"),
        False: ("false", "f", "no", "n", "0", "0.0", "off", "unchecked", "nein", "non"),
    }
)


def parse_transaction_status(s: pl.Series) -> ParseResult:
    """Map vendor status words (Shopify financial status, generic words) to
    ``completed``, ``refunded`` or ``cancelled``; other words are bad."""
    return _lookup(s, TRANSACTION_STATUS_WORDS, pl.String)


def parse_deal_status(s: pl.Series) -> ParseResult:
    """Map a deal status column (``won``, ``Closed Lost``, ``Gagné``, ``open``…) to
    ``open``, ``won`` or ``lost``; other words are bad (use :func:`deal_status_from_stage`
    for stage names)."""
    return _lookup(s, DEAL_STATUS_WORDS, pl.String)


def deal_status_from_stage(s: pl.Series) -> ParseResult:
    """Derive the deal status from a stage name: stages naming a win (``Closed Won``,
    ``closedwon``, ``Gewonnen``…) are ``won``, those naming a loss are ``lost``, every other
    stage is ``open``. Never bad."""
    v = pl.col("v")
    status = (
        pl.when(v.is_null())
        .then(None)
        .when(v.str.contains(rf"\b(?:{'|'.join(_WON)})\b"))
        .then(pl.lit("won"))
        .when(v.str.contains(rf"\b(?:{'|'.join(_LOST)})\b"))
        .then(pl.lit("lost"))
        .otherwise(pl.lit("open"))
    )
    values = _eval(_normalize_words(_text(s)), status)
    return ParseResult(values, [], note="deal status derived from the stage name")


def parse_bool(s: pl.Series) -> ParseResult:
    """Parse yes/no flags: ``true/false``, ``yes/no``, ``y/n``, ``1/0``, ``x`` (a ticked cell)…

    Boolean columns pass through; numbers other than 1 and 0 are bad.
    """
    if s.dtype == pl.Boolean:
        return ParseResult(s, [])
    if s.dtype.is_numeric():
        v = pl.col("v")
        return _result(_present(s), _eval(s, pl.when(v == 1).then(True).when(v == 0).then(False)))
    return _lookup(s, BOOL_WORDS, pl.Boolean)
