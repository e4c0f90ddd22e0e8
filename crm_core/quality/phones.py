"""Phone numbers through Google's libphonenumber rules (the ``phonenumbers`` package).

``phonenumbers`` parses one value at a time (~20 µs), so callers pass only the DISTINCT (raw value, region) pairs
of a dataset; a value written with a leading ``+`` does not depend on the region and is parsed once. Above
:data:`POOL_THRESHOLD` distinct values the work is split over worker processes (a spawned pool, so DuckDB's
threads are never forked), which halves the time on two cores; any trouble with the pool falls back to one
process.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

import phonenumbers
import polars as pl

log = logging.getLogger(__name__)

POOL_THRESHOLD = 150_000
_CHUNK = 50_000
SUPPORTED_REGIONS: tuple[str, ...] = tuple(sorted(phonenumbers.SUPPORTED_REGIONS))

SCHEMA = {"raw": pl.String, "region": pl.String, "e164": pl.String, "valid": pl.Boolean}


def parse_one(raw: str, region: str | None) -> tuple[str | None, bool]:
    """``(E.164 text, valid)`` of one raw value; ``(None, False)`` when it does not parse at all. A number
    written with ``00`` for ``+`` (the international prefix of most countries, not of all: the US dials 011,
    Singapore 000) is read as international when it is not a valid number of the region as written."""
    e164, valid = _parse_one(raw, region)
    if not valid and raw.lstrip().startswith("00"):
        e, ok = _parse_one("+" + raw.lstrip()[2:], None)
        if ok:
            return e, ok
    return e164, valid


def _parse_one(raw: str, region: str | None) -> tuple[str | None, bool]:
    try:
        number = phonenumbers.parse(raw, region or None)
    except phonenumbers.NumberParseException:
        return None, False
    # valid for the expected region first: is_valid_number alone tries every region of the calling code (25 for +1)
    valid = bool(region) and phonenumbers.is_valid_number_for_region(number, region)
    valid = valid or phonenumbers.is_valid_number(number)
    # E.164 is +<calling code><national significant number> (what format_number(..., E164) writes)
    return f"+{number.country_code}{phonenumbers.national_significant_number(number)}", valid


def _parse_chunk(args: tuple[list[str], list[str | None]]) -> tuple[list[str | None], list[bool]]:
    raws, regions = args
    e164: list[str | None] = []
    valid: list[bool] = []
    for raw, region in zip(raws, regions):
        e, ok = parse_one(raw, region)
        e164.append(e)
        valid.append(ok)
    return e164, valid


def _workers() -> int:
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # not Linux
        return max(1, min(4, os.cpu_count() or 1))


_main_lock = threading.Lock()


@contextmanager
def _plain_main():
    """Spawned workers re-run the parent's ``__main__`` (a script, ``streamlit``'s launcher, a REPL with no file)
    unless it has neither ``__spec__`` nor ``__file__``; hide both while the workers start: they only need
    this module."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__[k] for k in ("__spec__", "__file__") if main is not None and k in main.__dict__}
    with _main_lock:
        try:
            if main is not None:
                main.__dict__.pop("__file__", None)
                main.__dict__["__spec__"] = None
            yield
        finally:
            if main is not None:
                main.__dict__.update(saved)
                if "__spec__" not in saved:
                    main.__dict__.pop("__spec__", None)


def _in_pool(chunks, workers: int) -> list[tuple[list, list]]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        with _plain_main():
            futures = [pool.submit(_parse_chunk, c) for c in chunks]  # the workers start on the first submit
        return [f.result() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def parse(pairs: pl.DataFrame) -> pl.DataFrame:
    """Parse distinct ``raw`` × ``region`` pairs (``region`` may be null).

    Returns
    -------
    pl.DataFrame
        ``raw``, ``region``, ``e164`` (null when the value does not parse) and ``valid`` (a real number of its
        country by the library's rules), one row per input row.
    """
    if pairs.is_empty():
        return pl.DataFrame(schema=SCHEMA)
    raws = pairs["raw"].to_list()
    regions = pairs["region"].to_list()
    chunks = [(raws[i:i + _CHUNK], regions[i:i + _CHUNK]) for i in range(0, len(raws), _CHUNK)]
    results: list[tuple[list, list]] | None = None
    workers = _workers()
    if len(raws) >= POOL_THRESHOLD and workers > 1:
        try:
            results = _in_pool(chunks, workers)
        except Exception as exc:  # noqa: BLE001 - the pool is only a speed-up
            log.warning("phone parsing in worker processes failed (%s); parsing in this process", exc)
            results = None
    if results is None:
        results = [_parse_chunk(c) for c in chunks]
    e164 = [e for r in results for e in r[0]]
    valid = [v for r in results for v in r[1]]
    return pl.DataFrame({"raw": raws, "region": regions, "e164": e164, "valid": valid}, schema=SCHEMA)
