"""Data — IDIC *Identify*; Gartner *Information* (DESIGN §1).

Import CRM exports (confirm the detected table and column mapping, see every problem, choose the good
rows or nothing), manage datasets, read the import history and see which analyses the data switches on.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import schema
from crm_core.ingest import pipeline
from crm_core.ingest.model import IngestError
from crm_core.store import StoreError
from ui import auth, data, state, widgets
from ui.frame import require_app_frame
from ui.quality import quality_section

require_app_frame()

UPLOAD_TYPES = state.UPLOAD_TYPES
NONE = "(none)"
PREVIEW_ROWS = 20

# What each canonical table switches on, and the export that feeds it (DESIGN §4: each table beyond
# transactions switches on more analysis; a page that lacks its table says which export would feed it).
COVERAGE: dict[str, tuple[str, str]] = {
    "transactions": (
        "Portfolio (Pareto, ABC, RFM), retention and cohorts, predictive CLV",
        "Orders or invoices with customer, date and amount: Shopify Orders export, your billing or ERP "
        "invoice lines, or won Deals/Opportunities from Salesforce, HubSpot, Pipedrive or Zoho.",
    ),
    "customers": (
        "Region, segment and owner filters; segment profiles; acquisition channels",
        "Export your Contacts/Accounts from HubSpot or Salesforce (Pipedrive Organizations, Zoho Accounts, "
        "Shopify Customers work too).",
    ),
    "interactions": (
        "Cost to serve, interaction mix per segment and channel",
        "Activities: Salesforce Tasks/Events, HubSpot Calls/Emails/Meetings, Pipedrive or Zoho Activities, "
        "or helpdesk tickets — one row per activity with customer and date.",
    ),
    "feedback": (
        "NPS and CSAT, satisfaction by segment",
        "Survey responses (NPS 0–10 or CSAT 1–5) with a customer ID and a response date, from your survey "
        "tool or HubSpot feedback surveys.",
    ),
    "deals": (
        "Win rate, sales cycle, pipeline by owner (won deals count as purchases when there are no transactions)",
        "Deals/Opportunities: Salesforce Opportunities, HubSpot Deals, Pipedrive Deals, Zoho Deals.",
    ),
}


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------------------- import
def upload_limit_mb() -> int:
    """The upload limit per file, in MB: ``[server] maxUploadSize`` in ``.streamlit/config.toml``."""
    return int(st.get_option("server.maxUploadSize"))


def import_section(ds: dict | None) -> None:
    st.subheader("Import exports")
    if not auth.allowed("import"):  # run_import checks again (ui.auth.require)
        st.caption("Your role can browse the datasets and download their tables; an analyst or admin imports.")
        return
    state.reset_import_form_if_asked()
    limit = upload_limit_mb()
    files = st.file_uploader(
        f"CRM exports: CSV, TSV, TXT, Excel (XLSX/XLSM) or Parquet — up to {limit} MB per file",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=state.UPLOAD,
        help="Exports from Salesforce, HubSpot, Shopify, Pipedrive and Zoho are recognised by their headers; "
        f"any other file with a header row works too — you confirm the columns below. Up to {limit} MB per file "
        "(the server's upload limit).",
    )
    target = import_options(ds)
    if not files:
        st.caption(
            "Nothing is stored until you press Import. Each file is read, its table (customers, transactions, "
            "interactions, feedback or deals) and source system detected, and every problem listed with its "
            "row and value first."
        )
        return

    dayfirst = state.DATE_ORDERS[st.session_state.get(state.DATE_ORDER, "Automatic")]
    done = st.session_state.setdefault(state.IMPORTED_FILES, set())
    used: set = set()
    candidates: list[tuple[str, pipeline.PreparedTable]] = []
    for upload in files:
        if upload.file_id in done:
            st.caption(f"✓ {upload.name} is imported. Remove it from the list above, or upload it again to re-import it.")
            continue
        try:
            preps = data.prepare_file(
                upload.file_id, upload.name, upload.getvalue(), target=target, dayfirst=dayfirst, used=used
            )
        except IngestError as exc:
            st.error(str(exc), icon=":material/block:")
            continue
        for i, prep in enumerate(preps):
            file_key = f"{upload.file_id}_{i}"
            override = st.session_state.setdefault(state.MAPPINGS, {}).get(file_key)
            if override:
                prep = data.prepare_again(
                    file_key, prep, target=target, dayfirst=dayfirst,
                    table=override["table"], mapping=override["mapping"], used=used,
                )
            show_prepared(file_key, prep)
            candidates.append((file_key, prep))
    data.prune_preparations(used)
    if candidates:
        import_controls(target, candidates)


def import_options(ds: dict | None) -> str | None:
    """Target dataset, append/replace and date order; returns the target dataset's name (or None)."""
    c1, c2, c3 = st.columns([1.2, 1, 1])
    with c1:
        options = ["selected", "new"] if ds else ["new"]
        if st.session_state.get(state.IMPORT_TARGET) not in options:
            st.session_state.pop(state.IMPORT_TARGET, None)
        default = 1 if ds and ds["is_sample"] else 0
        choice = st.radio(
            "Import into",
            options,
            index=default,
            key=state.IMPORT_TARGET,
            format_func=lambda o: f"The selected dataset ({ds['name']})" if o == "selected" else "A new dataset",
            help="Choose another dataset in the sidebar to import into it.",
        )
        if choice == "new":
            name = st.text_input("Name of the new dataset", key=state.NEW_DATASET, placeholder="e.g. HubSpot 2025")
            target = (name or "").strip() or None
            if target and target in data.dataset_names():
                st.caption(f"'{target}' exists already: the files are added to it.")
        else:
            target = ds["name"]
    with c2:
        st.radio(
            "Rows already in the dataset",
            ["append", "replace"],
            key=state.IMPORT_MODE,
            format_func=lambda m: "Keep them and add these (append)" if m == "append"
            else "Replace the tables these files hold (replace)",
            help="Replace deletes the dataset's rows of each imported table (e.g. all its transactions) and "
            "loads the file instead, in one step: if anything fails, nothing changes.",
        )
    with c3:
        st.selectbox(
            "Date order",
            list(state.DATE_ORDERS),
            key=state.DATE_ORDER,
            help="Automatic reads each date column as a whole (a column with 13/02 is day/month). Choose an "
            "order when every date in a file could be either, such as 03/04/2025.",
        )
    return target


def show_prepared(file_key: str, prep: pipeline.PreparedTable) -> None:
    table = schema.TABLES[prep.table]
    status = "cannot be imported" if prep.fatal else (
        f"{prep.rows_rejected:,} with problems" if prep.rows_rejected else "no problems"
    )
    title = f"{prep.source} — {table.label} · {prep.detection.system} · {plural(prep.rows_read, 'row')} ({status})"
    with st.expander(title, expanded=True, icon=":material/table_view:"):
        c1, c2 = st.columns([1, 3])
        with c1:
            kind = st.selectbox(
                "This file holds",
                list(schema.TABLE_NAMES),
                index=schema.TABLE_NAMES.index(prep.table),
                format_func=lambda t: schema.TABLES[t].label,
                key=state.table_kind_key(file_key),
                help="Detected from the headers. Change it if the guess is wrong; the columns are matched again.",
            )
            if prep.currency:
                st.caption(f"Currency: {prep.currency}")
            st.caption(f"Source system: {prep.detection.system}")
        if kind != prep.table:
            st.session_state[state.MAPPINGS][file_key] = {"table": kind, "mapping": None}
            st.rerun()
        with c2:
            mapping_editor(file_key, prep)

        st.markdown("**Preview** (first rows as they will be stored)" if prep.frame.width else "**Preview** (as read)")
        preview = prep.frame if prep.frame.width else prep.raw.frame
        st.dataframe(preview.head(PREVIEW_ROWS), width="stretch", hide_index=True)

        for note in prep.notes:
            st.caption(note)
        for problem in prep.warnings:
            st.warning(str(problem), icon=":material/warning:")
        for problem in prep.fatal:
            st.error(str(problem), icon=":material/block:")
        if prep.errors:
            st.markdown(
                f"**{prep.rows_rejected:,} of {prep.frame.height:,} rows cannot be used** — row numbers count "
                "the header as row 1:"
            )
            widgets.problems_table(prep.errors)


def mapping_editor(file_key: str, prep: pipeline.PreparedTable) -> None:
    """The detected column mapping as an editable table; an edit prepares the table again."""
    table = schema.TABLES[prep.table]
    raw = prep.raw.frame
    headers = [str(h) for h in raw.columns]
    mapping = dict(prep.detection.mapping)
    derived = dict(getattr(prep.detection, "derived", {}) or {})

    def example(header: str | None) -> str:
        if not header or header not in raw.columns:
            return ""
        values = raw[header].drop_nulls()
        return str(values[0]) if values.len() else ""

    rows = []
    for col in table.columns:
        header = mapping.get(col.name)
        note = "required" if col.required else ""
        if col.name in table.one_of:
            note = "one of " + " / ".join(table.one_of)
        if not header and col.name in derived:
            note = f"derived ({derived[col.name]})"
        rows.append(
            {
                "Field": col.name,
                "Meaning": col.label or col.name,
                "Column in the file": header if header in headers else NONE,
                "Example": example(header),
                "Note": note,
            }
        )
    frame = pl.DataFrame(rows)
    st.markdown(
        "**Column mapping** — "
        + ("your mapping" if prep.mapping_from_user else "detected from the headers")
        + "; change a row to match another column:"
    )
    edited = st.data_editor(
        frame,
        key=state.mapping_editor_key(file_key, prep.table),
        hide_index=True,
        width="stretch",
        height=36 * (len(rows) + 1) + 2,  # every field visible, no inner scrolling
        disabled=["Field", "Meaning", "Example", "Note"],
        column_config={
            "Column in the file": st.column_config.SelectboxColumn(
                "Column in the file", options=[NONE, *headers], required=True,
                help="The file's column that holds this field, or (none).",
            ),
        },
    )
    if not isinstance(edited, pl.DataFrame):
        edited = pl.from_pandas(edited)
    chosen = {
        r["Field"]: r["Column in the file"]
        for r in edited.to_dicts()
        if r["Column in the file"] and r["Column in the file"] != NONE
    }
    if chosen != {k: v for k, v in mapping.items() if v in headers}:
        overrides = st.session_state.setdefault(state.MAPPINGS, {})
        new = {"table": prep.table, "mapping": chosen}
        if overrides.get(file_key) != new:
            overrides[file_key] = new
            st.rerun()


def import_controls(target: str | None, candidates: list[tuple[str, pipeline.PreparedTable]]) -> None:
    st.markdown("##### Import")
    chosen: list[pipeline.PreparedTable] = []
    chosen_files: set[str] = set()
    if len(candidates) > 1:
        st.caption("Tables to import together (all of them land, or none):")
    for file_key, prep in candidates:
        if prep.fatal:
            st.caption(f"{prep.source} is left out: it cannot be imported as it is (see above).")
            continue
        if len(candidates) > 1:
            label = f"{prep.source} → {schema.TABLES[prep.table].label} ({plural(prep.rows_ok, 'row')})"
            if not st.checkbox(label, value=True, key=state.include_key(file_key)):
                continue
        chosen.append(prep)
        chosen_files.add(file_key.rsplit("_", 1)[0])
    if not chosen:
        st.error("No table of these files can be imported: fix the problems listed above and upload the file again.")
        return

    good = sum(p.rows_ok for p in chosen)
    bad = sum(p.rows_rejected for p in chosen)
    if bad and not good:  # "import the 0 good rows" is no choice to offer
        none = "The only row cannot be used" if bad == 1 else f"None of the {bad:,} rows can be used"
        st.error(f"{none}: fix the problems listed above (in the file, or in its column mapping) and upload it "
                 "again. Nothing has been imported.", icon=":material/error:")
        return
    choice = "good"
    if bad:
        choice = st.radio(
            f"{plural(bad, 'row')} cannot be used. What should happen?",
            ["good", "nothing"],
            index=None,
            key=state.PARTIAL_CHOICE,
            format_func=lambda c: f"Import the {good:,} good rows" if c == "good" else "Import nothing",
            help="The rows listed above are left out either way; nothing is changed unless you import.",
        )
    mode = st.session_state.get(state.IMPORT_MODE, "append")
    if target is None:
        st.caption("Name the new dataset above to import.")
    elif choice == "good" and bad == 0:
        st.caption(f"{plural(good, 'row')} will be imported into '{target}' ({mode}).")
    clicked = st.button(
        f"Import into {target}" if target else "Import",
        key=state.IMPORT_BUTTON,
        type="primary",
        disabled=target is None or choice is None,
        icon=":material/upload:",
    )
    if clicked and target is not None:
        run_import(
            target, chosen, chosen_files,
            replace=mode == "replace", accept_partial=choice == "good", nothing=choice == "nothing",
        )


PREPARE_LABELS = {
    "portfolio_kpis": "portfolio figures", "portfolio": "portfolio concentration", "portfolio_rfm": "RFM segments",
    "portfolio_quadrants": "value × cost quadrants", "portfolio_top": "top customers", "identify": "contact data",
    "segment_features": "segment features", "member_details": "customer lists", "segmentation": "k-means segments",
    "churn_rule": "churn rule", "retention_overview": "churn and survival", "clv_fit": "CLV models",
    "clv_scores": "CLV per customer", "top_scores": "CLV of the top customers",
    "holdout": "holdout checks",
    "historical_value": "value to date", "cohorts": "cohorts", "cost_view": "cost to serve",
}


def prepare(dataset_id: int, bar) -> None:
    """Compute the analysis pages' default views of the imported dataset (kept in the store), so each page
    opens at once; at a million customers this is the minute the k-means and CLV fits take."""

    def progress(done: int, total: int, name: str) -> None:
        if done < total:
            bar.progress(0.5 + 0.5 * done / total,
                         text=f"Preparing the analysis pages: {PREPARE_LABELS.get(name, name)} ({done + 1}/{total})…")

    data.prepare_pages(dataset_id, progress)


def run_import(
    target: str, chosen: list[pipeline.PreparedTable], file_ids: set[str], *,
    replace: bool, accept_partial: bool, nothing: bool,
) -> None:
    auth.require("import")
    store = data.get_store()
    rows = sum(p.rows_ok for p in chosen)
    refused = None
    with st.status(f"Importing into {target}…", expanded=True) as status:
        bar = st.progress(0.05, text="Checking the prepared tables…")
        try:
            bar.progress(0.3, text=f"Loading {rows:,} rows and rebuilding the customer facts (one transaction)…")
            result = pipeline.import_prepared(store, target, chosen, replace=replace, accept_partial=accept_partial)
        except pipeline.ImportRefused as exc:
            refused = exc
            status.update(label="Nothing was imported", state="error", expanded=False)
        except BaseException:
            status.update(label="The import failed; nothing was imported", state="error", expanded=False)
            raise
        else:
            data.clear_caches()
            prepare(result.dataset_id, bar)
            bar.progress(1.0, text="Done")
            status.update(label=f"Imported into {target}", state="complete", expanded=False)
    if refused is not None:
        data.clear_caches()
        if nothing:
            st.info(
                "Nothing was imported, as you chose; the dataset is unchanged. Fix the rows listed above and "
                "upload the file again.",
                icon=":material/info:",
            )
        else:
            st.error(f"Nothing was imported: {refused}", icon=":material/block:")
        return

    per_table = result.per_table()
    lines = ", ".join(
        f"{schema.TABLES[t].label.lower()}: {plural(c['loaded'], 'row')} loaded"
        + (f", {c['rejected']:,} left out" if c["rejected"] else "")
        for t, c in per_table.items()
    )
    data.clear_caches()
    data.forget_preparations()
    st.session_state.setdefault(state.IMPORTED_FILES, set()).update(file_ids)
    state.flash("success", f"Imported into **{target}** — {lines}. It is now the selected dataset.")
    state.request_dataset(target)
    st.session_state[state.RESET_IMPORT_FORM] = True
    st.rerun()


# ---------------------------------------------------------------------------- datasets
def datasets_section(ds: dict | None) -> None:
    st.subheader("Datasets")
    frame = data.datasets()
    if frame.is_empty():
        st.caption("No dataset yet: import your exports above, or load the sample company.")
    else:
        shown = frame.select(
            pl.col("name").alias("Dataset"),
            pl.col("is_sample").alias("Sample"),
            pl.col("currency").alias("Currency"),
            pl.col("created_at").alias("Created (UTC)"),
            *[pl.col(t).alias(schema.TABLES[t].label) for t in schema.TABLE_NAMES],
        )
        st.dataframe(
            shown,
            width="stretch",
            hide_index=True,
            column_config={
                "Created (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
                **widgets.count_columns(schema.TABLES[t].label for t in schema.TABLE_NAMES),
            },
        )
    if not frame.filter(pl.col("is_sample")).height and auth.allowed("load_sample"):
        if st.button("Load the sample company", key=state.LOAD_SAMPLE_BUTTON, icon=":material/science:"):
            load_sample()
    if frame.is_empty() or not auth.allowed("delete_dataset"):  # delete_dataset checks again
        return

    names = frame["name"].to_list()
    with st.expander("Delete a dataset", icon=":material/delete:"):
        if st.session_state.get(state.DELETE_TARGET) not in names:
            st.session_state.pop(state.DELETE_TARGET, None)
        name = st.selectbox(
            "Dataset to delete",
            names,
            index=names.index(ds["name"]) if ds and ds["name"] in names else 0,
            key=state.DELETE_TARGET,
            on_change=lambda: st.session_state.update({state.DELETE_CONFIRM: False}),
        )
        confirmed = st.checkbox(f"I understand this deletes {name} and all its rows", key=state.DELETE_CONFIRM)
        st.button(
            f"Delete {name}",
            key=state.DELETE_BUTTON,
            disabled=not confirmed,
            on_click=delete_dataset,
            args=(name,),
            icon=":material/delete_forever:",
        )


def delete_dataset(name: str) -> None:
    """Button callback (runs before the page, so it may reset the confirmation and the picker)."""
    auth.require("delete_dataset")
    store = data.get_store()
    try:
        dataset_id = store.dataset_id(name)
        if dataset_id is None:
            raise StoreError(f"There is no dataset named '{name}' any more.")
        store.delete_dataset(dataset_id)
    except StoreError as exc:
        state.flash("error", f"{exc} Nothing was deleted.")
        return
    finally:
        data.clear_caches()
        data.forget_preparations()
        st.session_state[state.DELETE_CONFIRM] = False
    if st.session_state.get(state.DATASET) == name:
        st.session_state.pop(state.DATASET, None)
    state.flash("success", f"Deleted the dataset **{name}** and all its rows.")


def load_sample() -> None:
    auth.require("load_sample")
    store = data.get_store()
    try:
        with st.spinner("Loading the sample company…"):
            result = store.load_sample()
    except StoreError as exc:
        st.error(f"{exc} The sample company was not loaded.")
        return
    data.clear_caches()
    data.forget_preparations()
    state.flash("success", f"Loaded the sample company as **{result.dataset}**.")
    state.request_dataset(result.dataset)
    st.rerun()


# ---------------------------------------------------------------------------- history, coverage, tables
def history_section(ds: dict) -> None:
    st.subheader("Import history")
    history = data.batches(ds["dataset_id"])
    if history.is_empty():
        st.caption(f"Nothing has been imported into {ds['name']} yet.")
        return
    st.dataframe(
        history.select(
            pl.col("file_name").alias("File"),
            pl.col("system").alias("System"),
            pl.col("table_name").alias("Table"),
            pl.col("mode").alias("Mode"),
            pl.col("rows_read").alias("Rows read"),
            pl.col("rows_loaded").alias("Loaded"),
            pl.col("rows_rejected").alias("Rejected"),
            pl.col("imported_at").alias("Imported (UTC)"),
        ),
        width="stretch",
        hide_index=True,
        column_config={
            "Imported (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            **widgets.count_columns(["Rows read", "Loaded", "Rejected"]),
        },
    )


def coverage_section(ds: dict) -> None:
    st.subheader("What this dataset can show")
    rows = []
    for name in schema.TABLE_NAMES:
        count = int(ds.get(name) or 0)
        switches_on, export = COVERAGE[name]
        rows_text = f"{count:,}" if count else "none"
        if name == "transactions" and not count and int(ds.get("deals") or 0):
            # won deals are the purchases of a dataset without transactions (the purchases view)
            rows_text, switches_on = "none (won deals stand in)", switches_on + ", from won deals"
        rows.append(
            {
                "Table": schema.TABLES[name].label,
                "Rows": rows_text,
                "Switches on": switches_on,
                "To add it, export": "" if count else export,
            }
        )
    present = sum(1 for name in schema.TABLE_NAMES if int(ds.get(name) or 0))
    st.caption(
        f"{present} of {len(rows)} tables present. Transactions (customer, date, amount) feed the core pages; "
        "each other table switches on more analysis."
    )
    frame = pl.DataFrame(rows)
    if present == len(rows):
        frame = frame.drop("To add it, export")
    # A static table: the text wraps instead of being cut off in a grid cell.
    st.table(frame, hide_index=True, border="horizontal")


def tables_section(ds: dict) -> None:
    st.subheader("Tables")
    present = [t for t in schema.TABLE_NAMES if int(ds.get(t) or 0)]
    if not present:
        st.caption("No rows yet.")
        return
    st.caption(f"The first {data.PREVIEW_ROWS:,} rows of each table as stored, with a CSV download.")
    tabs = st.tabs([f"{schema.TABLES[t].label} ({int(ds[t]):,})" for t in present])
    for tab, table in zip(tabs, present):
        with tab:
            preview = data.table_preview(ds["dataset_id"], table)
            st.dataframe(preview, width="stretch", hide_index=True, height=min(400, 35 * (preview.height + 1) + 3))
            widgets.download_frame(
                preview,
                f"Download {schema.TABLES[table].label.lower()} (first {preview.height:,} rows, CSV)",
                f"{ds['name']}_{table}",
                key=f"download_{table}",
            )


# ---------------------------------------------------------------------------- page
st.title("Data")
st.markdown(
    "**IDIC *Identify* · Gartner *Information*** — which customers do we know, from which exports, and is "
    "what we know complete enough to analyse?"
)
widgets.show_flashes()
selected = data.selected()
import_section(selected)
st.divider()
datasets_section(selected)
if selected is not None:
    st.divider()
    history_section(selected)
    st.divider()
    coverage_section(selected)
    st.divider()
    quality_section(selected)  # issue #7: ui/quality.py
    st.divider()
    tables_section(selected)
auth.users_section()  # admins with a users file: who has which role
