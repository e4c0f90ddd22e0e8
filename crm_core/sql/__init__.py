"""Named SQL queries (DuckDB dialect), one ``.sql`` file each, loaded by name.

Values are always bound as parameters (``$dataset`` …), never formatted into the text.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_DIR = Path(__file__).parent


@cache
def load(name: str) -> str:
    """Return the text of ``crm_core/sql/<name>.sql``."""
    path = _DIR / f"{name}.sql"
    if not path.is_file():
        raise KeyError(f"no SQL query named {name!r}")
    return path.read_text(encoding="utf-8")


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB so any column/table name is safe in SQL."""
    return '"' + str(name).replace('"', '""') + '"'
