"""CRM Lens engine: import CRM exports, store them in DuckDB, compute the measurements CRM models call for.

This package never imports streamlit (DESIGN.md §2).
"""

__version__ = "0.1.0"
