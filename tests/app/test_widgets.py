"""ui.widgets in a running script (AppTest.from_function)."""

from __future__ import annotations

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from ui import widgets


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


def _scope_captions():
    from datetime import date

    from crm_core.metrics.scope import Scope
    from ui import widgets

    scope = Scope(1, date(2024, 1, 1), date(2024, 12, 31))
    for currency in ("EUR", None, "  "):
        widgets.scope_caption(scope, currency)


def test_the_scope_caption_names_the_currency_or_says_the_exports_name_none():
    at = AppTest.from_function(_scope_captions, default_timeout=30)
    at.run()
    assert not at.exception
    assert [c.value for c in at.caption] == [
        "Scope: 2024-01-01 to 2024-12-31. Money in EUR.",
        "Scope: 2024-01-01 to 2024-12-31. Money as in the exports, which name no currency.",
        "Scope: 2024-01-01 to 2024-12-31. Money as in the exports, which name no currency.",
    ]


# ---------------------------------------------------------------------------- st.data_editor edits
def test_apply_edits_takes_the_editors_own_state_format():
    # Streamlit keeps {"edited_rows": {row position: {column: value}}}; a cleared cell is None
    rates = pl.DataFrame({"pool": ["call", "order", "return"], "rate": [4.0, 2.5, 10.0]})
    out = widgets.apply_edits(rates, {2: {"rate": 12}, 0: {"rate": None}})
    assert out.schema == rates.schema
    assert out["rate"].to_list() == [None, 2.5, 12.0]
    assert out["pool"].to_list() == ["call", "order", "return"]
    assert widgets.apply_edits(rates, {}).equals(rates)


def test_apply_edits_refuses_a_value_of_the_wrong_type():
    rates = pl.DataFrame({"pool": ["call"], "rate": [4.0]})
    with pytest.raises(ValueError, match="'rate'"):
        widgets.apply_edits(rates, {0: {"rate": "four"}})


# ---------------------------------------------------------------------------- page sections as fragments
def _sections():
    import streamlit as st

    from ui import widgets

    @widgets.section("probe section")
    def counted(label: str) -> None:
        st.session_state["section_runs"] = st.session_state.get("section_runs", 0) + 1
        st.radio(label, ["a", "b"], key="section_choice")
        if st.session_state["section_choice"] == "b":
            raise RuntimeError("the section broke")
        st.write(f"section drew {st.session_state['section_choice']}")

    st.session_state["page_runs"] = st.session_state.get("page_runs", 0) + 1
    counted("Choice")
    st.write("after the section")


def test_a_section_shows_its_own_error_and_the_page_goes_on():
    at = AppTest.from_function(_sections, default_timeout=30)
    at.run()
    assert not at.exception and not at.error
    assert (at.session_state["page_runs"], at.session_state["section_runs"]) == (1, 1)
    at.radio(key="section_choice").set_value("b").run()
    assert not at.exception  # no traceback on the screen ...
    assert [e.value for e in at.error] == [widgets.user_message(RuntimeError("the section broke"))]
    assert at.session_state["section_runs"] == 2  # (AppTest reruns the whole script, not the fragment alone)
    assert any(m.value == "after the section" for m in at.markdown)  # ... and the rest of the page stays
