"""ui.widgets in a running script (AppTest.from_function)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _long_table():
    import polars as pl

    from ui import widgets

    widgets.show_table(pl.DataFrame({"customer_id": [f"c{i}" for i in range(1500)]}), "customers", "t",
                       what="customer list")


def test_a_long_table_shows_its_first_rows_and_says_the_downloads_hold_all():
    at = AppTest.from_function(_long_table, default_timeout=30)
    at.run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1000  # MAX_TABLE_ROWS of 1,500
    assert any("first 1,000 of 1,500 rows" in c.value for c in at.caption)
    assert [b.label for b in at.get("download_button")] == ["Customer list as CSV", "Customer list as Excel"]
