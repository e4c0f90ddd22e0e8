"""Streamlit glue of the QCI, Gartner and CRM models pages (issue #5): their session keys, cached live KPIs, the
assessment form kept in the session, saving and reopening assessments, and the sections the two assessment pages
share (form, scores, evidence, history).

Every session key of these pages is spelled here (``ui/state.py`` holds the rest of the app's keys). The engine
is ``crm_core.frameworks``; nothing here computes a score or a metric.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

import polars as pl
import streamlit as st

from crm_core.frameworks import assessments as store_assessments
from crm_core.frameworks import charts as fw_charts
from crm_core.frameworks import crm_models, evidence, rubrics, scoring
from crm_core.frameworks.assessments import Assessment
from crm_core.frameworks.rubrics import Rubric
from crm_core.frameworks.scoring import Answers
from crm_core.metrics import catalog
from crm_core.metrics.scope import Scope
from crm_core.store import StoreError
from ui import auth, data, state, widgets

log = logging.getLogger("crm_lens.ui")

CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
NEW = "new"  # the "open" selectbox's value for a new assessment

# ---------------------------------------------------------------------------- session keys
MODEL_PICK = "models_model"  # radio on the CRM models page: the model id


def answer_key(framework: str, item_id: str, dimension: str) -> str:
    """Radio: the score of one practice (block) on one dimension (intention/reality, current/target)."""
    return f"{framework}__answer__{item_id}__{dimension}"


def note_key(framework: str, section_id: str) -> str:
    """Text area: the note of one area (block)."""
    return f"{framework}__note__{section_id}"


def expander_key(framework: str, section_id: str) -> str:
    """Expander: one area (block) of the form; keyed so it stays open while its scores (in its label) change."""
    return f"{framework}__area__{section_id}"


def taken_by_key(framework: str) -> str:
    """Text input: who makes the assessment."""
    return f"{framework}__taken_by"


def open_key(framework: str) -> str:
    """Selectbox: the assessment shown in the form — NEW or a saved assessment's id."""
    return f"{framework}__open"


def save_key(framework: str) -> str:
    """Button: save the form as a new assessment."""
    return f"{framework}__save"


def clear_key(framework: str) -> str:
    """Button: start a new, empty assessment."""
    return f"{framework}__clear"


def compare_key(framework: str) -> str:
    """Selectbox: the saved assessment compared with the one before it."""
    return f"{framework}__compare"


def _pending_key(framework: str) -> str:
    return f"_{framework}__pending_open"  # assessment id to show in the form on the next run


def _form_for_key(framework: str) -> str:
    return f"_{framework}__form_for"  # dataset id the form was filled for


# ---------------------------------------------------------------------------- live KPIs
def _group_values(_store, db: str, scope_: Scope, group: str) -> dict:
    # a page view (crm_core.views.evidence): kept in the store for the default scope, cached in memory
    return data.view("evidence", scope_, group=group)


def kpi_values(scope_: Scope, metric_ids: Iterable[str]) -> dict:
    """Live values of catalog metrics for a scope (``crm_core.frameworks.evidence``), each computation cached per
    (database, scope)."""
    ids = list(dict.fromkeys(metric_ids))
    store = data.get_store()
    out: dict = {}
    for group in evidence.groups_for(ids):
        out |= _group_values(store, store.path, scope_, group)
    return {m: out.get(m) for m in ids}


def metric_card(metric_id: str, value, ds: dict, *, label: str | None = None) -> None:
    """A live KPI card: the catalog label and value, the definition on hover; "needs …" under a value the dataset
    cannot give because the table that feeds it is empty."""
    m = catalog.metric(metric_id)
    st.metric(label or m.label, evidence.format_value(metric_id, value, ds.get("currency")), help=m.help,
              border=True)
    if value is None:
        st.caption(missing_text(metric_id, ds))


def missing_text(metric_id: str, ds: dict) -> str:
    """Why a metric has no value: the table that feeds it is empty, or the scope gives none."""
    table = crm_models.metric_table(metric_id)
    if not int(ds.get(table) or 0):
        return f"Needs {table}: import them on the Data page."
    return "Not defined for this window and filters."


def metric_cards(metric_ids: Iterable[str], values: dict, ds: dict, *, per_row: int = 4) -> None:
    """KPI cards, ``per_row`` to a row."""
    ids = list(metric_ids)
    for start in range(0, len(ids), per_row):
        for col, mid in zip(st.columns(per_row), ids[start:start + per_row]):
            with col:
                metric_card(mid, values.get(mid), ds)


# ---------------------------------------------------------------------------- the form in the session
def answers_from_state(rubric: Rubric) -> Answers:
    """The form's current answers (widget values) as :class:`Answers`."""
    ss = st.session_state
    values = {
        i.id: {d: ss.get(answer_key(rubric.framework, i.id, d)) for d in rubric.dimension_ids} for i in rubric.items
    }
    notes = {
        s.id: text.strip() for s in rubric.sections if (text := ss.get(note_key(rubric.framework, s.id)) or "").strip()
    }
    who = (ss.get(taken_by_key(rubric.framework)) or "").strip() or None
    return Answers(rubric.framework, values, notes, who)


def put_answers_in_state(rubric: Rubric, answers: Answers) -> None:
    """Fill the form's widgets with ``answers`` (before the widgets exist in this run, or in a callback)."""
    ss = st.session_state
    for i in rubric.items:
        for d in rubric.dimension_ids:
            ss[answer_key(rubric.framework, i.id, d)] = answers.value(i.id, d)
    for s in rubric.sections:
        ss[note_key(rubric.framework, s.id)] = answers.notes.get(s.id, "")
    ss[taken_by_key(rubric.framework)] = answers.taken_by or ""


def _open_changed(framework: str) -> None:
    """Callback of the "open" selectbox: fill the form with the chosen assessment, or empty it for a new one."""
    rubric = rubrics.rubric(framework)
    chosen = st.session_state.get(open_key(framework))
    if chosen in (None, NEW):
        put_answers_in_state(rubric, scoring.empty_answers(rubric))
        return
    try:
        assessment = store_assessments.load_assessment(data.get_store(), int(chosen))
    except StoreError as exc:
        state.flash("error", f"{exc} Choose another assessment.")
        st.session_state[open_key(framework)] = NEW
        return
    put_answers_in_state(rubric, assessment.answers)


def _clear(framework: str) -> None:
    st.session_state[open_key(framework)] = NEW
    put_answers_in_state(rubrics.rubric(framework), scoring.empty_answers(rubrics.rubric(framework)))


def prepare_form(rubric: Rubric, dataset_id: int, saved: list[Assessment]) -> None:
    """Before the form's widgets: a new dataset starts an empty form; an assessment just saved is shown as the
    open one; an "open" choice that no longer exists falls back to a new assessment."""
    ss = st.session_state
    fw = rubric.framework
    if ss.get(_form_for_key(fw)) != dataset_id:
        ss[_form_for_key(fw)] = dataset_id
        ss[open_key(fw)] = NEW
        put_answers_in_state(rubric, scoring.empty_answers(rubric))
    pending = ss.pop(_pending_key(fw), None)
    ids = {a.assessment_id for a in saved}
    if pending in ids:
        ss[open_key(fw)] = pending
    elif ss.get(open_key(fw)) not in ids | {NEW}:
        ss[open_key(fw)] = NEW


def assessments(dataset_id: int, framework: str) -> list[Assessment]:
    """Saved assessments of the dataset, newest first (read fresh: they change when the user saves)."""
    return store_assessments.assessments(data.get_store(), dataset_id, framework)


def previous(assessment: Assessment) -> Assessment | None:
    return store_assessments.previous_assessment(data.get_store(), assessment)


# ---------------------------------------------------------------------------- shared sections
def open_and_save_bar(rubric: Rubric, ds: dict, saved: list[Assessment]) -> None:
    """Which assessment the form shows (new or a saved one, to reopen), who assesses, and the Save button."""
    fw = rubric.framework
    labels = {a.assessment_id: a.label for a in saved}
    left, mid = st.columns([2, 1.4], gap="medium")
    with left:
        st.selectbox(
            "Assessment", [NEW, *labels], key=open_key(fw), on_change=_open_changed, args=(fw,),
            format_func=lambda v: "New assessment" if v == NEW else f"Reopen {labels.get(v, v)}",
            help="Start a new assessment, or reopen a saved one to read it or to start the next from it. Saving "
                 "always makes a new assessment, so the history keeps every one.",
        )
    with mid:
        st.text_input("Assessed by", key=taken_by_key(fw), placeholder="Name or team",
                      help="Who made this assessment; saved with it.")


def save_assessment(dataset_id: int, answers: Answers) -> int:
    """Store the answers as a new assessment of the dataset (analysts and admins); returns its id."""
    auth.require("save_assessment")
    return store_assessments.save_assessment(data.get_store(), dataset_id, answers)


def save_buttons(rubric: Rubric, ds: dict) -> None:
    fw = rubric.framework
    may_save = auth.allowed("save_assessment")
    with st.container(horizontal=True, gap="small"):
        save = may_save and st.button("Save as a new assessment", key=save_key(fw), type="primary",
                                      icon=":material/save:")
        st.button("Start a new, empty assessment", key=clear_key(fw), on_click=_clear, args=(fw,),
                  icon=":material/note_add:")
    if not save:
        return
    answers = answers_from_state(rubric)
    try:
        new_id = save_assessment(ds["dataset_id"], answers)
    except StoreError as exc:
        log.info("%s assessment not saved for dataset %s: %s", fw, ds["dataset_id"], exc)
        st.error(f"{exc} Nothing was saved.", icon=":material/error:")
        return
    st.session_state[_pending_key(fw)] = new_id
    st.session_state[compare_key(fw)] = new_id  # the history compares the new assessment with the one before it
    state.flash("success", f"Assessment #{new_id} saved. It is open in the form; the history below compares it "
                           "with the previous one.")
    st.rerun()


def export_current(rubric: Rubric, ds: dict, answers: Answers) -> None:
    """Downloads of the form's answers: the JSON the CLI reads, and the practices as CSV / Excel."""
    name = f"{ds['name']}_{rubric.framework}_answers"
    doc = scoring.answers_document(answers, dataset=ds["name"])
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "Answers as JSON", data=json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"),
            file_name=widgets.safe_file_name(name) + ".json", mime="application/json",
            key=f"{rubric.framework}__answers_json", on_click="ignore", icon=":material/data_object:",
            help=f"Score it headless: python -m crm_core assess --framework {rubric.framework} --answers FILE.json",
        )
        widgets.download_table(scoring.answers_frame(rubric, answers), name, key=f"{rubric.framework}__answers_table",
                               what="answers")


def evidence_column(section, values: dict, ds: dict) -> None:
    """The KPIs that speak to one area (block), beside its practices."""
    with st.container(border=True):
        st.markdown("**Evidence from the data**")
        for mid in section.evidence:
            m = catalog.metric(mid)
            value = values.get(mid)
            st.markdown(f":small[{m.label}]  \n**{evidence.format_value(mid, value, ds.get('currency'))}**",
                        help=m.help)
            if value is None:
                st.caption(missing_text(mid, ds))


def scores_table(rubric: Rubric, card: scoring.Scorecard, ds: dict) -> None:
    """One row per area (block) with its scores, and its downloads."""
    word = rubric.section_word.capitalize()
    head, other = rubric.headline, rubric.other
    hname, oname = head.capitalize(), other.capitalize()
    frame = card.sections.select(
        pl.col("section").alias(word),
        pl.col("items").alias("Practices" if rubric.framework == "qci" else "Items"),
        pl.col(f"{head}_answered").alias("Scored"),
        pl.col(f"{other}_pct").alias(f"{oname} (% of best)"),
        pl.col(f"{head}_pct").alias(f"{hname} (% of best)"),
        pl.col("gap").alias(f"Gap ({other} − {head})"),
        pl.col(f"{head}_mean").alias(f"{hname} mean ({rubric.scale_min}–{rubric.scale_max})"),
    )
    if rubric.framework == "gartner":
        frame = frame.drop("Items")
    widgets.show_table(
        frame, f"{ds['name']}_{rubric.framework}_scores", f"{rubric.framework}__scores_table",
        what=f"{rubric.section_word} scores",
        column_config={
            **widgets.share_columns(f"{oname} (% of best)", f"{hname} (% of best)", f"Gap ({other} − {head})"),
            f"{hname} mean ({rubric.scale_min}–{rubric.scale_max})": st.column_config.NumberColumn(
                f"{hname} mean ({rubric.scale_min}–{rubric.scale_max})", format="%.2f"),
        },
    )


def evidence_table(rubric: Rubric, values: dict, ds: dict) -> None:
    frame = evidence.evidence_frame(rubric, values, ds.get("currency")).select(
        pl.col(rubric.section_word).alias(rubric.section_word.capitalize()),
        pl.col("metric").alias("Metric"),
        pl.col("shown").alias("Value"),
        pl.col("value").alias("Value (number)"),
        pl.col("unit").alias("Unit"),
        pl.col("better").alias("Better"),
        pl.col("metric_id").alias("Catalog id"),
    )
    widgets.show_table(frame, f"{ds['name']}_{rubric.framework}_evidence", f"{rubric.framework}__evidence_table",
                       what="evidence table")


def history_section(rubric: Rubric, ds: dict, saved: list[Assessment]) -> None:
    """Saved assessments, the chosen one compared with the one before it, and its exports."""
    fw = rubric.framework
    st.subheader("History")
    if not saved:
        st.info(f"No assessment saved yet for this dataset. Score the {rubric.item_word}s above and save: each "
                "saved assessment is listed here and compared with the one before it.", icon=":material/history:")
        return
    head, other = rubric.headline.capitalize(), rubric.other.capitalize()
    hist = store_assessments.history_frame(saved).select(
        pl.col("assessment_id").alias("Assessment"),
        pl.col("taken_at").alias("Taken at (UTC)"),
        pl.col("taken_by").alias("Assessed by"),
        pl.col("score").alias(f"{head} (% of best)"),
        pl.col("other").alias(f"{other} (% of best)"),
        pl.col("answered").alias("Scored"),
        pl.col("items").alias("Of"),
    )
    widgets.show_table(hist, f"{ds['name']}_{fw}_assessments", f"{fw}__history_table", what="assessment history",
                       column_config={
                           **widgets.share_columns(f"{head} (% of best)", f"{other} (% of best)"),
                           "Taken at (UTC)": st.column_config.DatetimeColumn("Taken at (UTC)",
                                                                             format="YYYY-MM-DD HH:mm"),
                       })
    labels = {a.assessment_id: a for a in saved}
    if st.session_state.get(compare_key(fw)) not in labels:
        st.session_state[compare_key(fw)] = saved[0].assessment_id
    chosen_id = st.selectbox("Compare", list(labels), key=compare_key(fw),
                             format_func=lambda v: f"{labels[v].label} with the one before it",
                             help="A saved assessment and the one taken just before it: which "
                                  f"{rubric.section_word}s moved, and by how much.")
    chosen = labels[chosen_id]
    before = previous(chosen)
    if before is None:
        st.info(f"{chosen.label} is the first assessment of this dataset: there is none before it to compare with.",
                icon=":material/info:")
    else:
        comparison = store_assessments.compare_assessments(chosen, before)
        moved = comparison.filter(pl.col("direction").is_in(["up", "down"]) & (pl.col("section_id") != "overall"))
        if moved.height:
            parts = [f"{r['section']} {r['change'] * 100:+.0f} pp" for r in moved.sort("change").reverse().to_dicts()]
            st.markdown(f"**Moved since {before.label}:** " + "; ".join(parts) + ".")
        else:
            st.markdown(f"**No {rubric.section_word} moved since {before.label}.**")
        st.plotly_chart(fw_charts.change_figure(rubric, comparison, before_label=before.label, now_label=chosen.label),
                        config=CHART_CONFIG, key=f"{fw}__change_chart")
        table = comparison.select(
            pl.col("section").alias(rubric.section_word.capitalize()),
            pl.col("before").alias(f"Before (#{before.assessment_id})"),
            pl.col("now").alias(f"Now (#{chosen.assessment_id})"),
            pl.col("change").alias("Change"),
            pl.col("direction").alias("Moved"),
        )
        widgets.show_table(table, f"{ds['name']}_{fw}_comparison_{before.assessment_id}_{chosen.assessment_id}",
                           f"{fw}__comparison_table", what="comparison",
                           column_config=widgets.share_columns(f"Before (#{before.assessment_id})",
                                                               f"Now (#{chosen.assessment_id})", "Change"))
        st.caption("Scores as % of best practice; the change in percentage points (pp) of it.")
    st.markdown(f"**Export {chosen.label}**")
    name = f"{ds['name']}_{fw}_assessment_{chosen.assessment_id}"
    doc = scoring.answers_document(chosen.answers, dataset=ds["name"])
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "Assessment as JSON", data=json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"),
            file_name=widgets.safe_file_name(name) + ".json", mime="application/json", key=f"{fw}__saved_json",
            on_click="ignore", icon=":material/data_object:",
        )
        widgets.download_table(scoring.answers_frame(rubric, chosen.answers), name, key=f"{fw}__saved_table",
                               what="assessment")
