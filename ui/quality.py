"""The Data page's "Data quality" section (issue #7): score and components, problems with their rows, fixes with
a before/after preview and a confirmation, duplicate clusters to merge, and the audit log with Undo.

Streamlit glue only: every number comes from ``crm_core.quality``. Every action shows ``st.error`` on failure
(never a traceback) and changes nothing then; after a fix or an undo every cached read is dropped
(``ui.data.clear_caches``). Session keys start with ``quality_``.
"""

from __future__ import annotations

import logging

import polars as pl
import streamlit as st

from crm_core import quality
from crm_core.quality import fixes as quality_fixes
from crm_core.quality import phones as quality_phones
from crm_core.store import Store, StoreError
from ui import auth, data, state, widgets

FIX = "apply_quality_fix"  # the action (crm_core.auth.PERMISSIONS): analysts and admins
READ_ONLY = "Your role can read the report; an analyst or an admin can apply fixes."

log = logging.getLogger("crm_lens.ui")

REGION = "quality_phone_region"
PROBLEM = "quality_problem"
CLUSTER = "quality_cluster"
SURVIVOR = "quality_survivor"
MERGE_CONFIRM = "quality_merge_confirm"
MERGE_BUTTON = "quality_merge"
MERGE_ALL_CONFIRM = "quality_merge_all_confirm"
MERGE_ALL_BUTTON = "quality_merge_all"
UNDO_TARGET = "quality_undo_target"
UNDO_BUTTON = "quality_undo"
EXAMPLE_ROWS = 200


def preview_key(kind: str) -> str:
    return f"quality_preview_{kind}"


def confirm_key(kind: str) -> str:
    return f"quality_confirm_{kind}"


def apply_key(kind: str) -> str:
    return f"quality_apply_{kind}"


# ---------------------------------------------------------------------------- cached reads
@st.cache_data(show_spinner=False)
def _report(_store: Store, db: str, dataset_id: int) -> quality.QualityReport:
    return quality.kept_report(_store, dataset_id)


def report(dataset_id: int) -> quality.QualityReport:
    store = data.get_store()
    return _report(store, store.path, dataset_id)


@st.cache_data(show_spinner=False)
def _field_preview(_store: Store, db: str, dataset_id: int, kind: str) -> pl.DataFrame:
    return quality.field_preview(_store, dataset_id, kind)


@st.cache_data(show_spinner=False)
def _audit(_store: Store, db: str, dataset_id: int) -> pl.DataFrame:
    return quality.audit_log(_store, dataset_id)


# ---------------------------------------------------------------------------- the write actions
# Each checks the user's role where the change is carried out (crm_core.auth: analysts and admins), not
# only by hiding the controls, then writes in one transaction (crm_core.quality.fixes).
def apply_field_fix(dataset_id: int, kind: str):
    auth.require(FIX)
    return quality.apply_field_fix(data.get_store(), dataset_id, kind, applied_by=_who())


def merge(dataset_id: int, merges: list):
    auth.require(FIX)
    return quality.merge(data.get_store(), dataset_id, merges, applied_by=_who())


def undo(fix_id: int) -> str:
    auth.require(FIX)
    return quality.undo(data.get_store(), fix_id, undone_by=_who())


def _who() -> str | None:
    """The signed-in user's name when the app knows one (ui.auth), for the audit log."""
    try:
        from ui import auth

        user = auth.current_user()
        return getattr(user, "name", None)
    except Exception:  # noqa: BLE001 - no auth module or no user: the log says "–"
        return None


def _done(message: str) -> None:
    """After a write: forget every cached read, say what happened on the next run, and rerun."""
    data.clear_caches()
    state.flash("success", message)
    st.rerun()


# ---------------------------------------------------------------------------- the section
def quality_section(ds: dict) -> None:
    """The "Data quality" section of the Data page for the selected dataset."""
    st.subheader("Data quality")
    st.caption(
        "Unstandardized data — duplicate customers, badly written phone numbers, missing contact details — skews "
        "every count, share and value per customer. The checks run on the whole dataset; fixes change nothing "
        "until you confirm them, and each one can be undone."
    )
    dataset_id = int(ds["dataset_id"])
    try:
        with st.spinner("Checking the data (a minute at a million customers; kept afterwards)…"):
            rep = report(dataset_id)
    except Exception as exc:  # noqa: BLE001 - shown without a traceback
        widgets.show_error(exc, "data quality section")
        return
    _score_cards(rep)
    _region_setting(dataset_id, rep)
    if not rep.customers:
        st.info("This dataset has no customer records: import a Customers/Contacts export to check contact data, "
                "duplicates and formats. Transactions are still checked below.", icon=":material/info:")
    _problems(ds, rep)
    _completeness(rep)
    _field_fixes(ds, rep)
    _duplicates(ds, rep)
    _audit_log(ds)


def _score_cards(rep: quality.QualityReport) -> None:
    from crm_core.metrics import catalog

    comps = rep.components.to_dicts()
    cols = st.columns(4)
    with cols[0]:
        widgets.kpi_card("Quality score", "–" if rep.score is None else f"{rep.score:.0f} / 100",
                         catalog.metric("quality_score").help)
    for i, c in enumerate(comps, start=1):
        with cols[i % 4]:
            value = "not checked" if c["value"] is None else widgets.pct(c["value"])
            widgets.kpi_card(f"{c['label']} (×{c['weight']:g})", value, c["definition"])
    st.caption(
        f"{rep.customers:,} customer records checked in {rep.seconds:.1f} s. Weights in "
        "crm_core/quality/weights.yaml; a component that does not apply (no such data) is left out."
    )


def _region_setting(dataset_id: int, rep: quality.QualityReport) -> None:
    regions = list(quality_phones.SUPPORTED_REGIONS)

    def changed() -> None:
        try:
            auth.require(FIX)
            quality.set_phone_region(data.get_store(), dataset_id, st.session_state[REGION])
        except (StoreError, auth.PermissionDenied) as exc:
            state.flash("error", f"{exc} The phone region was not changed.")
            return
        data.clear_caches()
        state.flash("success", f"Default phone region set to {st.session_state[REGION]}; the report was re-run.")

    st.session_state[REGION] = rep.phone_region
    column, _ = st.columns([1, 3])
    column.selectbox(
        "Default phone region",
        regions,
        key=REGION,
        on_change=changed,
        disabled=not auth.allowed(FIX),
        help="Phone numbers without a +country code are read as numbers of the customer's own country; for a "
        "customer without a known country, of this region. "
        + ("Inferred from the country most customers live in; choose another to save it for this dataset."
           if rep.phone_region_inferred else "Saved for this dataset."),
    )


def _problems(ds: dict, rep: quality.QualityReport) -> None:
    st.markdown("##### Problems found")
    table = rep.problems.select(
        pl.col("label").alias("Problem"),
        pl.col("count").alias("Rows"),
        pl.col("share").alias("Share"),
        pl.col("base").alias("Out of"),
        pl.when(pl.col("fix").is_not_null()).then(pl.lit("yes")).otherwise(pl.lit("")).alias("Fix below"),
        pl.col("what").alias("What is counted"),
    )
    st.dataframe(
        table, width="stretch", hide_index=True, height=35 * (table.height + 1) + 3,  # every problem visible
        column_config={
            "Share": st.column_config.NumberColumn("Share", format="percent"),
            **widgets.count_columns(["Rows", "Out of"]),
            "What is counted": st.column_config.TextColumn("What is counted", width="large"),
        },
    )
    found = rep.problems.filter(pl.col("count") > 0)
    if found.is_empty():
        st.success("No problem found.", icon=":material/check_circle:")
        return
    labels = dict(zip(found["kind"], found["label"]))
    kind = st.selectbox("Show the rows of", list(labels), format_func=lambda k: f"{labels[k]} ({rep.counts[k]:,})",
                        key=PROBLEM, index=None, placeholder="Choose a problem to see its rows and download them")
    if kind is None:
        return
    rows = rep.examples.get(kind)
    if rows is None or rows.is_empty():
        return
    shown = rows.head(EXAMPLE_ROWS)
    st.dataframe(shown.rename({"table": "Table", "record_id": "Record", "customer_id": "Customer",
                               "field": "Field", "value": "Value", "suggestion": "Suggestion"}),
                 width="stretch", hide_index=True, height=min(400, 35 * (shown.height + 1) + 3))
    more = f" (the first {rows.height:,})" if rows.height < rep.counts[kind] else ""
    st.caption(f"Showing {shown.height:,} of {rep.counts[kind]:,} rows; the downloads hold all of them{more}.")
    widgets.download_table(rows, f"{ds['name']}_{kind}", key=f"quality_download_{kind}", what="rows")


def _completeness(rep: quality.QualityReport) -> None:
    if rep.completeness.is_empty():
        return
    with st.expander("Completeness per table and field", icon=":material/checklist:"):
        st.dataframe(
            rep.completeness.rename({"table": "Table", "field": "Field", "rows": "Rows", "filled": "Filled",
                                     "completeness": "Completeness"}),
            width="stretch", hide_index=True,
            column_config={
                "Completeness": st.column_config.ProgressColumn("Completeness", format="percent", min_value=0,
                                                                max_value=1),
                **widgets.count_columns(["Rows", "Filled"]),
            },
        )


# ---------------------------------------------------------------------------- fixes
_FIX_PROBLEMS = {"emails": ("email_unnormalized",), "phones": ("phone_unformatted",),
                 "countries": ("country_variant", "region_variant")}


def _field_fixes(ds: dict, rep: quality.QualityReport) -> None:
    pending = {k: sum(rep.counts[p] for p in probs) for k, probs in _FIX_PROBLEMS.items()}
    if not any(pending.values()):
        return
    st.markdown("##### Fixes")
    for kind, n in pending.items():
        if not n:
            continue
        with st.expander(f"{quality_fixes.LABELS[kind]} — {n:,} record(s) to change", icon=":material/build:"):
            st.caption(quality.FIXES[kind])
            if not st.toggle("Preview the changes", key=preview_key(kind)):
                continue
            _field_fix(ds, kind)


def _field_fix(ds: dict, kind: str) -> None:
    dataset_id = int(ds["dataset_id"])
    store = data.get_store()
    try:
        preview = _field_preview(store, store.path, dataset_id, kind)
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc, f"{kind} fix preview")
        return
    if preview.is_empty():
        st.caption("Nothing to change.")
        return
    st.dataframe(preview.head(EXAMPLE_ROWS).rename({"customer_id": "Customer", "field": "Field",
                                                    "before": "Before", "after": "After"}),
                 width="stretch", hide_index=True, height=min(300, 35 * (min(preview.height, EXAMPLE_ROWS) + 1) + 3))
    widgets.download_table(preview, f"{ds['name']}_{kind}_fix", key=f"quality_fix_download_{kind}", what="changes")
    if not auth.allowed(FIX):
        st.caption(READ_ONLY)
        return
    confirmed = st.checkbox(f"I have reviewed the {preview.height:,} change(s)", key=confirm_key(kind))
    if not st.button(f"Apply to {preview.height:,} value(s)", key=apply_key(kind), type="primary",
                     disabled=not confirmed, icon=":material/done_all:"):
        return
    try:
        result = apply_field_fix(dataset_id, kind)
    except StoreError as exc:
        st.error(f"{exc} Nothing was changed.", icon=":material/block:")
        return
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc, f"{kind} fix")
        return
    st.session_state.pop(confirm_key(kind), None)
    _done(f"Fix #{result.fix_id} applied — {result.summary}. Undo it in the audit log below.")


def _duplicates(ds: dict, rep: quality.QualityReport) -> None:
    clusters = rep.clusters
    if clusters.is_empty():
        return
    st.markdown("##### Duplicate customers")
    per = (clusters.group_by("cluster", "match", "size", "reason")
           .agg(pl.col("name").drop_nulls().first().alias("name"), pl.col("customer_id").sort().alias("ids"))
           .sort("cluster"))
    n_exact = per.filter(pl.col("match") == "exact").height
    st.caption(
        f"{per.height:,} clusters ({n_exact:,} exact: same email or phone; {per.height - n_exact:,} likely: similar "
        "name and company in the same country). Pick the record to keep; merging moves the others' transactions, "
        "interactions, feedback and deals to it, fills its empty fields from them and deletes them."
    )
    options = per["cluster"].to_list()
    info = {r["cluster"]: r for r in per.to_dicts()}
    cluster = st.selectbox(
        "Cluster to review", options, key=CLUSTER,
        format_func=lambda c: f"#{c} · {info[c]['match']} · {info[c]['name'] or '(no name)'} "
        f"({info[c]['size']} records: {info[c]['reason']})",
    )
    members = clusters.filter(pl.col("cluster") == cluster)
    cols = [c for c in ("customer_id", "name", "email", "phone", "company", "country", "created_at",
                        "transactions", "revenue") if c in members.columns]
    st.dataframe(members.select(cols), width="stretch", hide_index=True)
    ids = members["customer_id"].to_list()
    default = (members.sort(["transactions", "created_at"], descending=[True, False], nulls_last=True)
               ["customer_id"][0])
    key = f"{SURVIVOR}_{ds['dataset_id']}_{cluster}"
    survivor = st.radio("Record to keep", ids, index=ids.index(default), key=key, horizontal=True,
                        help="Suggested: the record with the most transactions (then the oldest).")
    try:
        preview = quality.merge_preview(data.get_store(), int(ds["dataset_id"]), [(survivor, ids)])
    except StoreError as exc:
        st.error(str(exc), icon=":material/block:")
        return
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc, "merge preview")
        return
    moved = ", ".join(f"{n:,} {t}" for t, n in preview["repointed"].items() if n) or "no other rows"
    st.markdown(f"**After the merge** — {survivor} is kept ({moved} move to it; {len(ids) - 1} record(s) deleted):")
    st.dataframe(preview["after"].drop(["segment", "acquisition_channel", "industry"], strict=False),
                 width="stretch", hide_index=True)
    if not auth.allowed(FIX):
        st.caption(READ_ONLY)
        return
    confirmed = st.checkbox(f"Merge these {len(ids)} records into {survivor}", key=MERGE_CONFIRM)
    if st.button("Merge", key=MERGE_BUTTON, type="primary", disabled=not confirmed, icon=":material/merge:"):
        _merge(ds, [(survivor, ids)])
    if n_exact > 1:
        with st.expander(f"Merge all {n_exact:,} exact clusters at once", icon=":material/merge_type:"):
            st.caption("Each exact cluster (same normalized email or phone) is merged into its record with the most "
                       "transactions (then the oldest). One fix: one Undo reverses all of them.")
            confirmed_all = st.checkbox(f"Merge all {n_exact:,} exact clusters", key=MERGE_ALL_CONFIRM)
            if st.button("Merge all exact clusters", key=MERGE_ALL_BUTTON, disabled=not confirmed_all,
                         icon=":material/merge:"):
                exact = clusters.filter(pl.col("match") == "exact").sort(
                    ["cluster", "transactions", "created_at"], descending=[False, True, False], nulls_last=True)
                plan = exact.group_by("cluster", maintain_order=True).agg(pl.col("customer_id"))
                _merge(ds, [(ids_[0], ids_) for ids_ in plan["customer_id"].to_list()])


def _merge(ds: dict, merges: list) -> None:
    try:
        result = merge(int(ds["dataset_id"]), merges)
    except StoreError as exc:
        st.error(f"{exc}", icon=":material/block:")
        return
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc, "merge")
        return
    st.session_state.pop(MERGE_CONFIRM, None)
    st.session_state.pop(MERGE_ALL_CONFIRM, None)
    _done(f"Fix #{result.fix_id} applied — {result.summary}. Undo it in the audit log below.")


# ---------------------------------------------------------------------------- audit log
def _audit_log(ds: dict) -> None:
    dataset_id = int(ds["dataset_id"])
    store = data.get_store()
    try:
        log_frame = _audit(store, store.path, dataset_id)
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc, "quality audit log")
        return
    st.markdown("##### Fixes applied (audit log)")
    if log_frame.is_empty():
        st.caption("No fix applied to this dataset yet.")
        return
    st.dataframe(
        log_frame.select(
            pl.col("fix_id").alias("Fix"), pl.col("summary").alias("What"), pl.col("applied_at").alias("Applied (UTC)"),
            pl.col("applied_by").fill_null("–").alias("By"), pl.col("customers").alias("Customers"),
            pl.col("rows_changed").alias("Rows changed"), pl.col("undone_at").alias("Undone (UTC)"),
        ),
        width="stretch", hide_index=True,
        column_config={
            "Applied (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "Undone (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "What": st.column_config.TextColumn("What", width="large"),
            **widgets.count_columns(["Customers", "Rows changed"]),
        },
    )
    applied = log_frame.filter(pl.col("undone_at").is_null())
    if applied.is_empty():
        return
    summaries = dict(zip(applied["fix_id"], applied["summary"]))
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    with c1:
        fix_id = st.selectbox("Fix to undo", list(summaries), key=UNDO_TARGET,
                              format_func=lambda f: f"#{f} — {summaries[f]}")
    with c2:
        clicked = st.button("Undo", key=UNDO_BUTTON, icon=":material/undo:", disabled=not auth.allowed(FIX),
                            help=None if auth.allowed(FIX) else READ_ONLY)
    with st.expander(f"Rows of fix #{fix_id} before and after", icon=":material/compare:"):
        try:
            rows = quality.fix_rows(store, int(fix_id))
        except Exception as exc:  # noqa: BLE001
            widgets.show_error(exc, "quality fix rows")
        else:
            for side in ("before", "after"):
                for table, frame in rows[side].items():
                    st.markdown(f"**{side.capitalize()}** — {table} ({frame.height:,} rows)")
                    st.dataframe(frame.drop(["dataset_id", "batch_id"]).head(EXAMPLE_ROWS), width="stretch",
                                 hide_index=True)
    if not clicked:
        return
    try:
        message = undo(int(fix_id))
    except StoreError as exc:
        st.error(str(exc), icon=":material/block:")
        return
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc, "undo")
        return
    st.session_state.pop(UNDO_TARGET, None)
    _done(message + " The rows are exactly as they were before it.")
