"""Named SQL queries (DuckDB dialect), one ``.sql`` file each, loaded by name.

Values are always bound as parameters (``$dataset`` …), never formatted into the text.
"""

from __future__ import annotations

import re
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


_INCLUDE = re.compile(r"^[ \t]*-- @include (\w+)[ \t]*$", re.MULTILINE)


def expand(text: str) -> str:
    """Replace every ``-- @include <name>`` line of a query by ``crm_core/sql/<name>.sql`` (recursively): how a
    fragment of CTEs (the costing, the purchase measures, the activity islands) is written once and shared."""
    return _INCLUDE.sub(lambda m: expand(load(m.group(1))).strip(), text)
