"""The app shell and the Data page, driven by Streamlit's AppTest (DESIGN §9).

Each test has its own database file (``CRM_LENS_DB``) and empty caches (conftest.py); the store is
read through the app's own cached ``Store`` because DuckDB allows one read-write connection per file
and process.
"""

from __future__ import annotations

from datetime import date

import pytest

from streamlit.testing.v1 import AppTest

from crm_core.sample import SAMPLE_DATASET
from ui import state
from ui.widgets import UNEXPECTED_ERROR

from .conftest import APP, TIMEOUT

SAMPLE_BANNER = "You are looking at sample data (a synthetic company)"
DATA_PAGE = "pages/data.py"

ORDERS = (
    b"Customer ID,Order Date,Revenue\n"
    b"C001,2024-01-05,120.00\n"
    b"C002,2024-01-09,80.50\n"
    b"C001,2024-02-11,45.00\n"
    b"C003,2024-03-02,300.00\n"
    b"C002,2024-03-15,99.99\n"
)
# Row 4 (header = row 1) has a date nobody can read.
ORDERS_ONE_BAD = (
    b"Customer ID,Order Date,Revenue\n"
    b"C001,2024-01-05,120.00\n"
    b"C002,2024-01-09,80.50\n"
    b"C003,not a date,45.00\n"
    b"C004,2024-03-02,300.00\n"
)


def assert_clean(at) -> None:
    """No exception element and no 'something went wrong' error on screen."""
    assert not at.exception, [e.value for e in at.exception]
    unexpected = [e.value for e in at.error if UNEXPECTED_ERROR in e.value]
    assert not unexpected, unexpected


def texts(elements) -> list[str]:
    return [e.value for e in elements]


def data_page(app):
    app.switch_page(DATA_PAGE).run()
    assert_clean(app)
    assert texts(app.title) == ["Data"]
    return app


def dataframe_with(at, column: str):
    """The first st.dataframe whose (pandas) value has ``column``."""
    for df in at.dataframe:
        if column in df.value.columns:
            return df.value
    raise AssertionError(f"no dataframe with a {column!r} column; have {[list(d.value.columns) for d in at.dataframe]}")


def upload(at, name: str, content: bytes, mime: str = "text/csv"):
    at.file_uploader(key=state.UPLOAD).upload(name, content, mime).run()
    assert_clean(at)
    return at


def import_into_new(at, dataset: str):
    at.radio(key=state.IMPORT_TARGET).set_value("new").run()
    at.text_input(key=state.NEW_DATASET).input(dataset).run()
    assert_clean(at)
    return at


def counts(store, name: str) -> dict | None:
    rows = store.datasets().filter(store.datasets()["name"] == name).to_dicts()
    return rows[0] if rows else None


# ---------------------------------------------------------------------------- shell
def test_first_start_loads_the_sample_company_with_its_banner(app, store):
    assert_clean(app)
    assert any(SAMPLE_BANNER in t for t in texts(app.info))
    assert app.sidebar.selectbox(key=state.DATASET).value == SAMPLE_DATASET
    sample = counts(store, SAMPLE_DATASET)
    assert sample is not None and sample["is_sample"]
    assert sample["transactions"] > 0 and sample["customers"] > 0
    # the analysis window defaults to the full purchase span
    first, last = store.query(
        "SELECT CAST(MIN(occurred_at) AS DATE), CAST(MAX(occurred_at) AS DATE) FROM purchases"
    ).row(0)
    assert app.sidebar.date_input(key=state.FILTER_WINDOW).value == (first, last)


def test_changing_and_resetting_filters_does_not_crash(app):
    sb = app.sidebar
    region = sb.multiselect(key=state.FILTER_REGIONS)
    assert region.options
    region.select(region.options[0]).run()
    assert_clean(app)
    window = app.sidebar.date_input(key=state.FILTER_WINDOW)
    start, end = window.value
    window.set_value((start, start.replace(day=28) if start.day < 28 else start)).run()
    assert_clean(app)
    app.sidebar.multiselect(key=state.FILTER_CHANNELS).select(app.sidebar.multiselect(key=state.FILTER_CHANNELS).options[0]).run()
    assert_clean(app)
    assert app.session_state[state.FILTER_REGIONS] == [region.options[0]]

    data_page(app)  # the filters survive a page switch and the page renders with them
    assert app.sidebar.multiselect(key=state.FILTER_REGIONS).value == [region.options[0]]

    app.sidebar.button(key=state.RESET_FILTERS).click().run()
    assert_clean(app)
    assert app.sidebar.multiselect(key=state.FILTER_REGIONS).value == []
    assert app.sidebar.multiselect(key=state.FILTER_CHANNELS).value == []
    assert app.sidebar.date_input(key=state.FILTER_WINDOW).value == (start, end)


# ---------------------------------------------------------------------------- Data page
def test_data_page_lists_the_sample_dataset_with_row_counts(app, store):
    data_page(app)
    # the frame runs around the page: sidebar picker and sample banner are there too
    assert app.sidebar.selectbox(key=state.DATASET).value == SAMPLE_DATASET
    assert any(SAMPLE_BANNER in t for t in texts(app.info))
    assert any("IDIC" in m.value and "Identify" in m.value for m in app.markdown)
    datasets = dataframe_with(app, "Dataset")
    row = datasets[datasets["Dataset"] == SAMPLE_DATASET].iloc[0]
    stored = counts(store, SAMPLE_DATASET)
    assert int(row["Transactions"]) == stored["transactions"]
    assert int(row["Customers"]) == stored["customers"]
    assert bool(row["Sample"])
    coverage = app.table[0].value
    assert list(coverage["Table"]) == ["Customers", "Transactions", "Interactions", "Feedback", "Deals"]
    assert "none" not in list(coverage["Rows"])  # the sample has every table
    history = dataframe_with(app, "Rows read")
    assert set(history["File"]) >= {"sample:transactions", "sample:customers"}
    assert len(app.get("download_button")) == 5  # one CSV per table present


def test_upload_shows_detection_and_mapping_then_imports(app, store):
    data_page(app)
    upload(app, "orders.csv", ORDERS)
    labels = [e.label for e in app.expander]
    assert any("orders.csv" in lab and "Transactions" in lab and "5 rows" in lab for lab in labels), labels
    mapping = app.data_editor[0].value
    chosen = dict(zip(mapping["Field"], mapping["Column in the file"]))
    assert chosen["customer_id"] == "Customer ID"
    assert chosen["occurred_at"] == "Order Date"
    assert chosen["amount"] == "Revenue"
    assert app.selectbox(key=state.table_kind_key(app.file_uploader(key=state.UPLOAD).value[0].file_id + "_0")).value == "transactions"

    import_into_new(app, "Shop")
    app.button(key=state.IMPORT_BUTTON).click().run()
    assert_clean(app)
    shop = counts(store, "Shop")
    assert shop is not None and shop["transactions"] == 5 and not shop["is_sample"]
    assert any("Imported into" in s.value and "Shop" in s.value for s in app.success)
    # the new dataset is selected, so no sample banner; its history lists the file
    assert app.sidebar.selectbox(key=state.DATASET).value == "Shop"
    assert app.radio(key=state.IMPORT_TARGET).value == "selected"  # the form points at it now
    assert not any(SAMPLE_BANNER in t for t in texts(app.info))
    history = dataframe_with(app, "Rows read")
    assert list(history["File"]) == ["orders.csv"]
    assert int(history["Loaded"][0]) == 5


def test_bad_row_is_reported_and_import_nothing_leaves_the_store_unchanged(app, store):
    data_page(app)
    upload(app, "orders.csv", ORDERS_ONE_BAD)
    import_into_new(app, "Shop")
    problems = dataframe_with(app, "Problem")
    bad = problems.iloc[0]
    assert (bad["File"], bad["Column"], int(bad["Row"]), bad["Value"]) == ("orders.csv", "Order Date", 4, "not a date")

    partial = app.radio(key=state.PARTIAL_CHOICE)
    assert partial.options == ["Import the 3 good rows", "Import nothing"]
    before = store.snapshot()
    partial.set_value("nothing").run()
    app.button(key=state.IMPORT_BUTTON).click().run()
    assert_clean(app)
    assert any("Nothing was imported" in t for t in texts(app.info))
    assert store.snapshot() == before

    app.radio(key=state.PARTIAL_CHOICE).set_value("good").run()
    app.button(key=state.IMPORT_BUTTON).click().run()
    assert_clean(app)
    shop = counts(store, "Shop")
    assert shop is not None and shop["transactions"] == 3
    history = dataframe_with(app, "Rows read")
    assert (int(history["Loaded"][0]), int(history["Rejected"][0])) == (3, 1)


def test_a_file_with_no_usable_row_offers_no_import(app, store):
    data_page(app)
    upload(app, "orders.csv", b"Customer ID,Order Date,Revenue\nC001,someday,1\nC002,yesterday,2\n")
    import_into_new(app, "Shop")
    problems = dataframe_with(app, "Problem")
    assert sorted(int(r) for r in problems["Row"]) == [2, 3]
    # no "Import the 0 good rows" choice, no Import button: an error saying what to do instead
    assert not [r for r in app.radio if r.key == state.PARTIAL_CHOICE]
    assert not [b for b in app.button if b.key == state.IMPORT_BUTTON]
    assert any("None of the 2 rows can be used" in t and "Nothing has been imported" in t for t in texts(app.error))
    before = store.snapshot()
    app.run()
    assert store.snapshot() == before


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02garbage\xff\xfe"], ids=["empty", "binary"])
def test_unreadable_file_shows_an_error_without_traceback(app, store, content):
    data_page(app)
    before = store.snapshot()
    upload(app, "export.csv", content)
    assert app.error, "the refused file must be reported"
    assert all("Traceback" not in e.value for e in app.error)
    assert not app.get("button") or not [b for b in app.button if b.key == state.IMPORT_BUTTON]
    assert store.snapshot() == before


def test_changing_the_table_kind_prepares_again(app):
    data_page(app)
    upload(app, "orders.csv", ORDERS)
    file_id = app.file_uploader(key=state.UPLOAD).value[0].file_id
    app.selectbox(key=state.table_kind_key(f"{file_id}_0")).set_value("customers").run()
    assert_clean(app)
    assert any("Customers" in e.label for e in app.expander)
    fields = list(app.data_editor[0].value["Field"])
    assert fields[0] == "customer_id" and "segment" in fields


def test_an_edited_mapping_is_used_for_the_import(app, store):
    """The mapping editor stores the user's mapping by upload; the table is prepared again with it
    (editing st.data_editor cells is not possible in AppTest, so the test sets what an edit stores)."""
    data_page(app)
    upload(app, "orders.csv", b"Customer ID,Order Date,Revenue,Net\nC1,2024-01-05,100,90\nC2,2024-01-06,50,40\n")
    file_key = app.file_uploader(key=state.UPLOAD).value[0].file_id + "_0"
    edited = {"customer_id": "Customer ID", "occurred_at": "Order Date", "amount": "Net"}
    app.session_state[state.MAPPINGS] = {file_key: {"table": "transactions", "mapping": edited}}
    app.run()
    assert_clean(app)
    chosen = dict(zip(app.data_editor[0].value["Field"], app.data_editor[0].value["Column in the file"]))
    assert chosen["amount"] == "Net"
    assert any("your mapping" in m.value for m in app.markdown)
    import_into_new(app, "Shop")
    app.button(key=state.IMPORT_BUTTON).click().run()
    assert_clean(app)
    dataset_id = store.dataset_id("Shop")
    assert sorted(store.table("transactions", dataset_id)["amount"].to_list()) == [40.0, 90.0]


def test_delete_a_dataset_after_confirmation_then_reload_the_sample(app, store):
    data_page(app)
    assert app.button(key=state.DELETE_BUTTON).disabled
    app.checkbox(key=state.DELETE_CONFIRM).check().run()
    assert not app.button(key=state.DELETE_BUTTON).disabled
    app.button(key=state.DELETE_BUTTON).click().run()
    assert_clean(app)
    assert store.datasets().is_empty()
    assert any("Deleted" in s.value for s in app.success)
    assert not any(SAMPLE_BANNER in t for t in texts(app.info))  # nothing selected, and not reloaded

    app.button(key=state.LOAD_SAMPLE_BUTTON).click().run()
    assert_clean(app)
    assert counts(store, SAMPLE_DATASET) is not None
    assert app.sidebar.selectbox(key=state.DATASET).value == SAMPLE_DATASET


def test_window_value_helper_handles_partial_ranges():
    d = date(2024, 5, 1)
    assert state.window_bounds((d,)) == (d, d)
    assert state.window_bounds(()) == (None, None)
    assert state.window_bounds((d, date(2024, 6, 1))) == (d, date(2024, 6, 1))


def test_an_error_on_a_page_reaches_the_user_without_traceback(app, monkeypatch):
    from ui import data

    def broken(dataset_id):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(data, "batches", broken)
    app.switch_page(DATA_PAGE).run()
    assert not app.exception
    messages = texts(app.error)
    assert any(UNEXPECTED_ERROR in m and "Reload the page" in m for m in messages), messages
    assert not any("disk on fire" in m or "Traceback" in m for m in messages)
    # the frame is still there around the failed page
    assert app.sidebar.selectbox(key=state.DATASET).value == SAMPLE_DATASET


@pytest.mark.fresh_server
def test_a_page_run_alone_reruns_inside_the_app_frame(db_path):
    # A deep link as a new server's first request runs pages/data.py without app.py; the page's
    # require_app_frame() must bring back the frame: the store, the sidebar and the sample banner.
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert at.sidebar.selectbox(key=state.DATASET).value == SAMPLE_DATASET
    assert any(SAMPLE_BANNER in t for t in texts(at.info))
