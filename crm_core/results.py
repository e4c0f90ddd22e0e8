"""Page results of a dataset's default scope, kept in the store so that a page's first view is a read.

A page of the walk at a million customers needs seconds to minutes of work (k-means with k chosen by
silhouette, the BG/NBD + Gamma-Gamma fit, Kaplan-Meier, cost to serve...). What the pages show first is
always the same scope: the dataset's whole purchase span with no filters (the stored ``customer_facts``,
:func:`crm_core.metrics.facts.default_scope`). Its results are kept in the ``results`` table:

* written the first time they are computed (by a page, or by :func:`crm_core.views.warm` right after an
  import), read afterwards by every session and every new server process;
* deleted in the same transaction that rebuilds the dataset's facts (an import) or reprices them (new
  cost rates: only the results a rate enters; ``crm_core.views.priced`` says which), so a stale result can
  never be read;
* encoded without pickle: JSON for the structure, Arrow IPC for frames, and dataclasses only from
  ``crm_core`` modules, so a database file cannot make the app run code.

Results of other unfiltered windows (a quarter on the review page, a window picked in the sidebar) and of a
channel filter (each channel of the default window is prepared too) are kept the same way; scopes with region,
segment or owner filters are picked from those or computed on demand, and cached in memory.
"""

from __future__ import annotations

import atexit
import dataclasses
import importlib
import io
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

log = logging.getLogger(__name__)

# One row per kept result; its payload lives in a table of its own, result_<id>: DuckDB reads a BLOB
# column a whole row group at a time, so payloads side by side made every read decompress all of them
# (0.7 s for a 300-byte result next to 300 MB of CLV frames at 10M transactions).
DDL = """CREATE TABLE IF NOT EXISTS results (
    result_id BIGINT NOT NULL UNIQUE,
    dataset_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    bytes BIGINT NOT NULL,
    seconds DOUBLE,
    created_at TIMESTAMP NOT NULL,
    priced BOOLEAN NOT NULL DEFAULT TRUE, -- a cost rate enters the result: new rates drop it
    PRIMARY KEY (dataset_id, name, key)
)"""
SEQUENCE_DDL = "CREATE SEQUENCE IF NOT EXISTS result_seq START 1"


class Recent:
    """The last ``size`` values computed in this process, by key (least recently used dropped first): what is
    too specific to keep in the store — filtered scopes, a window's computed facts — reused by the views and
    pages that ask for it again. Keys carry the store and the data version (:func:`data_version`), so a value
    from before a write is never returned. Thread-safe, and a key is computed once at a time: a thread missing a
    key another thread is computing waits for that value (e.g. a rate save on the Cost page while the page's
    thread still reads the usage it prices, which would otherwise be read twice on the same two cores); when
    that computation fails, the waiting thread computes the value itself."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[tuple, Any] = OrderedDict()
        self._computing: dict[tuple, tuple[int, threading.Event]] = {}  # key: (computing thread, done)
        self._lock = threading.Lock()

    def held(self, key: tuple) -> Any:
        """The value of ``key`` if this process holds it, else None (nothing computed, nobody waited for)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        return None

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        me = threading.get_ident()
        while True:
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key]
                owner, done = self._computing.get(key, (me, None))
                if done is None or owner == me:  # nobody computes it (or this thread, deeper down): compute
                    done = threading.Event()
                    self._computing.setdefault(key, (me, done))
                    break
            done.wait()  # then read it, or compute it if that computation failed
        try:
            value = compute()
            with self._lock:
                self._values[key] = value
                while len(self._values) > self.size:
                    self._values.popitem(last=False)
            return value
        finally:
            with self._lock:
                if self._computing.get(key, (None, None))[1] is done:
                    del self._computing[key]
            done.set()


def migrate(cur) -> None:
    """Re-create the results table when a file made by an older version has other columns (results are a
    cache: dropping them only means computing again)."""
    have = [r[0] for r in cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'results' "
        "AND table_schema = current_schema() ORDER BY ordinal_position").fetchall()]
    if have and not {"result_id", "priced"} <= set(have):
        if "result_id" in have:  # each payload is a table of its own
            for (result_id,) in cur.execute("SELECT result_id FROM results").fetchall():
                cur.execute(f"DROP TABLE IF EXISTS {_payload_table(result_id)}")
        cur.execute("DROP TABLE results")
        cur.execute(DDL)


def _payload_table(result_id: int) -> str:
    return f"result_{int(result_id)}"  # an integer from our sequence: safe as a name

# Bump when a view's result changes shape: results written by an older version are then not read.
# A dataset's kept results beyond this are dropped, oldest first. What `prepare` keeps comes first and is kept
# longest: ~270 results with four sales channels and the three quick periods, ~370 with eight channels
# (views.PRESET_CHANNELS_MAX), which leaves room for the windows and channel choices users then make (~25 results each).
KEEP_PER_DATASET = 600
FORMAT = 6  # 6: cost_view with profit_bins; 5: portfolio with quadrant_axes; 4: segmentations as labels of member_details; 3: clv_fit summaries


class ResultFormatError(ValueError):
    """A value that cannot be kept (not JSON, a frame, a date or a crm_core dataclass)."""


# ---------------------------------------------------------------------------------------------- encoding
# A payload is MAGIC, the length of a JSON header (8 bytes, little endian), the header, then each frame as
# its length and Arrow IPC bytes. The header is the value with every frame replaced by {"$frame": i}.
MAGIC = b"CRMLENS-RESULT\x00"


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="lz4")
    return buffer.getvalue()


def _encode(value: Any, frames: list[bytes]) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, (pl.DataFrame, pl.Series)):  # numpy scalar
        return _encode(value.item(), frames)
    if isinstance(value, pl.DataFrame):
        frames.append(_ipc(value))
        return {"$frame": len(frames) - 1}
    if isinstance(value, pl.Series):
        frames.append(_ipc(value.to_frame()))
        return {"$series": len(frames) - 1}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, timedelta):
        return {"$timedelta": value.total_seconds()}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(v, frames) for v in value]}
    if isinstance(value, list):
        return [_encode(v, frames) for v in value]
    if isinstance(value, dict):
        return {"$dict": [[_encode(k, frames), _encode(v, frames)] for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith("crm_core."):
            raise ResultFormatError(f"cannot keep a {cls.__module__}.{cls.__qualname__}")
        fields = {f.name: _encode(getattr(value, f.name), frames) for f in dataclasses.fields(value) if f.init}
        return {"$dataclass": f"{cls.__module__}:{cls.__qualname__}", "fields": fields}
    raise ResultFormatError(f"cannot keep a {type(value).__name__}")


def _decode(value: Any, frames: list[memoryview]) -> Any:
    if isinstance(value, list):
        return [_decode(v, frames) for v in value]
    if not isinstance(value, dict):
        return value
    if "$frame" in value:
        return pl.read_ipc(io.BytesIO(frames[value["$frame"]]))
    if "$series" in value:
        return pl.read_ipc(io.BytesIO(frames[value["$series"]])).to_series()
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$date" in value:
        return date.fromisoformat(value["$date"])
    if "$timedelta" in value:
        return timedelta(seconds=value["$timedelta"])
    if "$tuple" in value:
        return tuple(_decode(v, frames) for v in value["$tuple"])
    if "$dict" in value:
        return {_decode(k, frames): _decode(v, frames) for k, v in value["$dict"]}
    if "$dataclass" in value:
        module, _, qualname = value["$dataclass"].partition(":")
        if not module.startswith("crm_core."):
            raise ResultFormatError(f"refusing to build a {module}.{qualname}")
        cls = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if not dataclasses.is_dataclass(cls):
            raise ResultFormatError(f"{module}.{qualname} is not a dataclass")
        return cls(**{k: _decode(v, frames) for k, v in value["fields"].items()})
    raise ResultFormatError(f"unknown tagged value {sorted(value)}")


def encode(value: Any) -> bytes:
    """``value`` as bytes (a JSON header, frames as Arrow IPC); raises :class:`ResultFormatError`."""
    frames: list[bytes] = []
    header = json.dumps({"format": FORMAT, "value": _encode(value, frames)}, allow_nan=True).encode("utf-8")
    parts = [MAGIC, len(header).to_bytes(8, "little"), header]
    for frame in frames:
        parts += [len(frame).to_bytes(8, "little"), frame]
    return b"".join(parts)


def decode(payload: bytes) -> Any:
    """The value :func:`encode` wrote; raises :class:`ResultFormatError` for another format."""
    view = memoryview(payload)
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise ResultFormatError("not a CRM Lens result")
    at = len(MAGIC)
    size = int.from_bytes(view[at:at + 8], "little")
    body = json.loads(bytes(view[at + 8:at + 8 + size]))
    at += 8 + size
    if body.get("format") != FORMAT:
        raise ResultFormatError(f"result format {body.get('format')} is not {FORMAT}")
    frames = []
    while at < len(view):
        size = int.from_bytes(view[at:at + 8], "little")
        frames.append(view[at + 8:at + 8 + size])
        at += 8 + size
    return _decode(body["value"], frames)


# ---------------------------------------------------------------------------------------------- the table
MISSING = object()


def key_of(params: dict) -> str:
    """A stable text key for a view's parameters (sorted JSON; dates as ISO text)."""
    return json.dumps(params, sort_keys=True, default=str)


def get(store, dataset_id: int, name: str, key: str) -> Any:
    """The kept result, or :data:`MISSING` (also when it was written in another format); one a thread of this process
    is still writing (``cached(..., write_later=True)``) is that value."""
    with _writing_lock:
        held = _writing.get(_slot(store, dataset_id, name, key), (MISSING,))[0]
    if held is not MISSING:
        return held
    cur = store.cursor()
    row = cur.execute(
        "SELECT result_id FROM results WHERE dataset_id = ? AND name = ? AND key = ?", [dataset_id, name, key]
    ).fetchall()
    if not row:
        return MISSING
    try:
        payload = cur.execute(f"SELECT payload FROM {_payload_table(row[0][0])}").fetchall()[0][0]
    except Exception as exc:  # noqa: BLE001 - dropped by a concurrent rebuild: compute again
        log.info("kept %s result of dataset %s is gone: %s", name, dataset_id, exc)
        return MISSING
    try:
        return decode(payload)
    except (ResultFormatError, ValueError, KeyError) as exc:
        log.info("ignoring the kept %s result of dataset %s: %s", name, dataset_id, exc)
        return MISSING


def put(store, dataset_id: int, name: str, key: str, value: Any, seconds: float | None = None,
        priced: bool = True) -> None:
    """Keep a result (replacing one with the same name and key); ``priced``: a cost rate enters it."""
    payload = encode(value)
    with store.transaction() as cur:
        _drop(cur, "dataset_id = ? AND name = ? AND key = ?", [dataset_id, name, key])
        result_id = cur.execute("SELECT nextval('result_seq')").fetchall()[0][0]
        cur.execute(f"CREATE TABLE {_payload_table(result_id)} AS SELECT ?::BLOB AS payload", [payload])
        cur.execute(
            "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [result_id, dataset_id, name, key, len(payload), seconds, datetime.now(), priced],
        )


def _drop(cur, where: str, params: list) -> None:
    for (result_id,) in cur.execute(f"SELECT result_id FROM results WHERE {where}", params).fetchall():
        cur.execute(f"DROP TABLE IF EXISTS {_payload_table(result_id)}")
    cur.execute(f"DELETE FROM results WHERE {where}", params)


def prune(store, dataset_id: int, keep: int = KEEP_PER_DATASET) -> None:
    """Drop a dataset's oldest kept results beyond ``keep``."""
    with store.transaction() as cur:
        _drop(cur, "result_id IN (SELECT result_id FROM results WHERE dataset_id = ? ORDER BY created_at DESC "
                   "OFFSET ?)", [dataset_id, keep])


def clear(cur, dataset_id: int, priced_only: bool = False) -> None:
    """Forget a dataset's results, inside the transaction that changes its data, or its cost rates
    (``priced_only``: the results no cost rate enters stay)."""
    _drop(cur, "dataset_id = ? AND (priced OR NOT ?)", [dataset_id, priced_only])


def kept(store, dataset_id: int) -> pl.DataFrame:
    """What is kept for a dataset: name, key, size in bytes, seconds it took, when."""
    return store.query(
        "SELECT name, key, bytes, seconds, created_at FROM results WHERE dataset_id = ? ORDER BY name, key",
        [dataset_id],
    )


def data_version(store, dataset_id: int, priced: bool = True) -> str:
    """What a dataset's results depend on: its latest import batch, its cost rates (unless ``priced`` is
    false: a result no cost rate enters), its targets and its data-quality fixes (applied and undone).

    Remembered until the store's next write transaction ends (``Store.generation``): every cache key of a view
    asks for it, some forty times a page run, each a 2.5 ms query."""
    generation = getattr(store, "generation", None)
    if generation is None:
        return _data_version(store, dataset_id, priced)
    memo = store.__dict__.setdefault("_data_versions", {})
    key = (dataset_id, priced)
    held = memo.get(key)
    if held is not None and held[0] == generation:
        return held[1]
    version = _data_version(store, dataset_id, priced)
    memo[key] = (generation, version)
    return version


def _data_version(store, dataset_id: int, priced: bool) -> str:
    row = store.cursor().execute(
        "SELECT (SELECT max(batch_id) FROM import_batches WHERE dataset_id = $d), "
        "(SELECT string_agg(pool || '/' || unit || '=' || rate, ';' ORDER BY pool, unit) FROM cost_rates "
        "WHERE dataset_id = $d), "
        "(SELECT md5(string_agg(metric_id || '/' || period || '=' || value, ';' ORDER BY metric_id, period)) "
        "FROM targets WHERE dataset_id = $d), "
        "(SELECT max(fix_id) || '/' || count(undone_at) FROM quality_audit WHERE dataset_id = $d)",
        {"d": dataset_id},
    ).fetchall()[0]
    rates = (row[1] or "") if priced else "-"
    return f"{row[0]}|{rates}|{row[2] or ''}|{row[3] or ''}"


def scope_key(store, scope, params: dict, priced: bool = True) -> str:
    """The key :func:`cached` keeps a result of a ``scope`` without customer filters under: the parameters, the
    window, the channels (when filtered) and the data version (a result computed while an import replaced the data
    is never read)."""
    window = [None if d is None else d.isoformat() for d in (scope.start, scope.end)]
    channels = {"channels": list(scope.channels)} if scope.channels else {}  # no key of an earlier scope changes
    return key_of({**params, "window": window, **channels, "version": data_version(store, scope.dataset_id, priced),
                   "format": FORMAT})  # a result of another format is never taken as kept (views.warm)


def is_kept(store, dataset_id: int, name: str, key: str) -> bool:
    """Whether a result is kept, or being written by a thread of this process (without reading its payload)."""
    with _writing_lock:
        if _slot(store, dataset_id, name, key) in _writing:
            return True
    return bool(store.cursor().execute(
        "SELECT 1 FROM results WHERE dataset_id = ? AND name = ? AND key = ?", [dataset_id, name, key]).fetchall())


# one lock per result being computed in this process: a second caller of the same result (a page while the
# background preparation after new cost rates computes it) waits for the first and reads what it kept
_computing: dict[tuple, threading.Lock] = {}
_computing_lock = threading.Lock()
# Results a thread of their own is writing (cached(..., write_later=True)), by slot: (value, writing thread). get()
# returns the value meanwhile; Store.close() waits for the threads of its store (finish_writes).
_writing: dict[tuple, tuple[Any, threading.Thread]] = {}
_writing_lock = threading.Lock()


def _slot(store, dataset_id: int, name: str, key: str) -> tuple:
    return getattr(store, "token", id(store)), dataset_id, name, key


def _keep(store, dataset_id: int, name: str, key: str, value: Any, seconds: float, priced: bool) -> None:
    """Write a computed result and prune the dataset's oldest; a failure is logged (keeping is an optimisation)."""
    try:
        put(store, dataset_id, name, key, value, seconds, priced)
        prune(store, dataset_id)
    except Exception as exc:  # noqa: BLE001 - keeping is an optimisation; the result is still right
        log.warning("could not keep the %s result of dataset %s: %s", name, dataset_id, exc)


def _keep_later(store, dataset_id: int, name: str, key: str, value: Any, seconds: float, priced: bool) -> None:
    """:func:`_keep` in a thread of its own; :func:`get` returns ``value`` until it is written."""
    slot = _slot(store, dataset_id, name, key)

    def run() -> None:
        try:
            _keep(store, dataset_id, name, key, value, seconds, priced)
        finally:
            with _writing_lock:
                if _writing.get(slot, (None, None))[1] is thread:
                    del _writing[slot]

    thread = threading.Thread(target=run, name=f"crm-lens-keep-{name}", daemon=True)
    with _writing_lock:
        _writing[slot] = (value, thread)
    thread.start()


def finish_writes(store=None) -> None:
    """Wait for the results of ``store`` (of every store when None) that threads are still writing: before the store
    is closed, and as the process exits (the threads are daemons, which Python would stop wherever they are)."""
    token = None if store is None else getattr(store, "token", id(store))
    with _writing_lock:
        threads = [thread for slot, (_, thread) in _writing.items() if token is None or slot[0] == token]
    for thread in threads:
        thread.join()


atexit.register(finish_writes)


def cached(store, scope, name: str, params: dict, compute: Callable[[], Any], priced: bool = True,
           write_later: bool = False) -> Any:
    """``compute()``, kept in the store when ``scope`` picks no customers: no filters (any window: the default
    scope that :func:`crm_core.views.warm` prepares, and the windows users pick, such as the review's quarter), or a
    channel filter only (``warm`` prepares each channel of the default window).

    ``priced=False`` for a result no cost rate enters: its key leaves the rates out, so it outlives new rates
    (``clear(..., priced_only=True)``). Scopes with region, segment or owner filters are computed every call
    (``crm_core.views.compute`` and the app keep recent ones in memory). Two threads asking for the same result
    compute it once. A result that cannot be encoded or written is still returned (the reason goes to the log).

    ``write_later``: return the result as soon as it is computed and write it in a thread of its own (:func:`get`
    returns it meanwhile), for a caller that holds it in memory too: at 10M transactions the features of a new
    window's segments are 18 MB, whose encoding, write and the checkpoint after it took 0.35-0.45 s of the
    Differentiate page's first run.
    """
    if scope.picks_customers:
        return compute()
    key = scope_key(store, scope, params, priced)
    hit = get(store, scope.dataset_id, name, key)
    if hit is not MISSING:
        return hit
    slot = (getattr(store, "token", id(store)), scope.dataset_id, name, key)
    with _computing_lock:
        lock = _computing.setdefault(slot, threading.Lock())
    with lock:
        try:
            hit = get(store, scope.dataset_id, name, key)  # kept by the thread we waited for
            if hit is not MISSING:
                return hit
            start = time.perf_counter()
            value = compute()
            keep = _keep_later if write_later else _keep
            keep(store, scope.dataset_id, name, key, value, time.perf_counter() - start, priced)
            return value
        finally:
            with _computing_lock:
                if _computing.get(slot) is lock:
                    del _computing[slot]
