"""Plotly figures remembered by what they are drawn from, so that a rerun does not build them again.

Every widget change reruns the page script, and the script builds each of its figures again from the same kept
results. Plotly validates every property of a figure it builds (the template, each array), which at a million
customers was about half of a Portfolio rerun's server time (py-spy, 15 reruns: ~0.2 of ~0.45 s). A figure
built by the same function from equal values is the same figure, so :func:`figure` keeps the last
:data:`FIGURES` of them, keyed by the function and a :func:`fingerprint` of the values it is given (their
contents, not their identities: a frame computed again in a new run is found too, and a value changed in place
cannot be mistaken for the old one). Not ``st.cache_resource``: Streamlit 1.67's hasher keys a frame of 50,000
rows or more by a sample of 10,000 of them, so two results differing elsewhere would share a figure. Figures are
shared between sessions and only read (``st.plotly_chart`` serialises a copy), so a page must not change a figure
it gets from here.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import plotly.graph_objects as go
import polars as pl
import streamlit as st

#: Figures a server keeps: a page draws up to ~10, and a few scopes and widget choices stay in reach.
FIGURES = 64
_SCALARS = (type(None), bool, int, float, str, bytes, date, datetime, time, timedelta, Decimal)

_lock = threading.Lock()
_memo: OrderedDict[Hashable, go.Figure] = OrderedDict()


class Unkeyed(TypeError):
    """A value :func:`fingerprint` has no content key for (its figure is built every time)."""


def _frame_digest(frame: pl.DataFrame) -> str:
    digest = hashlib.blake2b(repr(frame.schema).encode(), digest_size=16)
    if frame.height and frame.width:
        # one 64-bit hash per row, in row order (row order matters to a line chart)
        digest.update(frame.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


def fingerprint(value: object) -> Hashable:
    """A hashable key equal for values with equal contents: scalars, dates, Polars frames and series (schema and
    every row's hash, in order), and mappings, lists and tuples of those.

    Raises
    ------
    Unkeyed
        For any other value (an object's identity would say nothing of its contents).
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        # NaN equals nothing, and Python hashes each NaN object apart: a NaN argument would miss the memo on
        # every rerun and push a kept figure out
        return ("float", "nan")
    if isinstance(value, _SCALARS):
        return (type(value).__name__, value)
    if isinstance(value, pl.DataFrame):
        return ("frame", value.shape, _frame_digest(value))
    if isinstance(value, pl.Series):
        return ("series", value.name, len(value), _frame_digest(value.to_frame()))
    if isinstance(value, Mapping):
        return ("map", tuple((fingerprint(k), fingerprint(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(fingerprint(v) for v in value))
    raise Unkeyed(f"no content key for a {type(value).__name__}")


def figure(build: Callable[..., go.Figure], *args, **kwargs) -> go.Figure:
    """``build(*args, **kwargs)``, or the figure it returned before for equal arguments.

    Arguments without a content key (:class:`Unkeyed`), and a ``build`` that is not a module's own function (a
    lambda or closure, whose qualified name does not tell it from another), build the figure every time."""
    if "<" in build.__qualname__:
        return build(*args, **kwargs)
    try:
        key = (build.__module__, build.__qualname__, fingerprint(args), fingerprint(kwargs))
    except Unkeyed:
        return build(*args, **kwargs)
    with _lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    fig = build(*args, **kwargs)  # outside the lock: two sessions building the same figure get equal ones
    with _lock:
        _memo[key] = fig
        while len(_memo) > FIGURES:
            _memo.popitem(last=False)
    return fig


def plot(build: Callable[..., go.Figure], *args, key: str, config: dict, height: int | str | None = None,
         **kwargs) -> None:
    """``st.plotly_chart`` of :func:`figure` (``build``, ``args``, ``kwargs``) with the chart's key and config."""
    options = {} if height is None else {"height": height}
    st.plotly_chart(figure(build, *args, **kwargs), config=config, key=key, **options)


def clear() -> None:
    """Forget every figure (tests; the memo needs no clearing on writes, as its keys are the contents)."""
    with _lock:
        _memo.clear()
