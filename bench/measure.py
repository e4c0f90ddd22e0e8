"""One JSON line per measured step, shared by the bench scripts.

``peak_mb`` is the peak of memory Python allocated during the step (tracemalloc: numpy buffers
included, DuckDB's and Polars' native buffers not); ``rss_mb`` the process's peak resident memory so
far, which counts everything. Call ``tracemalloc.start()`` before the first step.
"""

from __future__ import annotations

import json
import resource
import time
import tracemalloc
from contextlib import contextmanager


@contextmanager
def measure(step: str, rows: int, out: dict):
    """Time the block; print {"step", "seconds", "peak_mb", "rss_mb", "rows", **out} when it ends."""
    tracemalloc.reset_peak()
    start = time.perf_counter()
    yield out
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    line = {"step": step, "seconds": round(seconds, 3), "peak_mb": round(peak / 2**20, 1), "rss_mb": round(rss, 1),
            "rows": rows, **out}
    print(json.dumps(line), flush=True)
