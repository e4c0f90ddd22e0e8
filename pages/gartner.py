"""Gartner — the eight building blocks of CRM (DESIGN §1).

Each block rated as a maturity level (1–5, every level described), current and target; the radar of current
against target maturity, the evidence the data gives for each block, the Metrics block live (value, retention,
satisfaction, loyalty, cost to serve), and the saved assessments compared with the one before. Thin:
``ui.frameworks`` for the form and the cached KPIs, ``crm_core.frameworks`` for the rubric, scores and figures.
"""

from __future__ import annotations

import streamlit as st

from crm_core.frameworks import charts as fw_charts
from crm_core.frameworks import rubrics, scoring
from ui import data, state, widgets
from ui import frameworks as fw
from ui.frame import require_app_frame

require_app_frame()

FRAMEWORK = "gartner"
CHART_CONFIG = fw.CHART_CONFIG


def level_text(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def block_form(rubric, block) -> None:
    item = block.items[0]
    names = dict(rubric.levels)
    st.markdown("\n".join(f"{k}. **{names[k]}** — {text}" for k, text in item.levels))
    for dim, label in (("current", "Current level"), ("target", "Target level")):
        st.segmented_control(
            label, list(range(rubric.scale_min, rubric.scale_max + 1)), key=fw.answer_key(FRAMEWORK, item.id, dim),
            format_func=lambda v: f"{v} {names[v]}", help=dict(rubric.dimensions)[dim],
        )
    st.text_area("Notes", key=fw.note_key(FRAMEWORK, block.id), height=68, placeholder="Evidence, owners, next steps…",
                 help="Saved with the assessment and exported with its answers.")


def assessment_section(rubric, ds: dict, card, values: dict, saved) -> None:
    st.subheader("Maturity assessment")
    st.caption("Rate every building block twice: the **current** maturity level and the **target** the business "
               "means to reach (1 Initial … 5 Optimised; each level is described in the block). A block left "
               "empty does not count.")
    fw.open_and_save_bar(rubric, ds, saved)
    rows = {r["section_id"]: r for r in card.sections.to_dicts()}
    for block in rubric.sections:
        r = rows[block.id]
        label = f"{block.name} — current {level_text(r['current_mean'])}, target {level_text(r['target_mean'])}"
        with st.expander(label, expanded=False, key=fw.expander_key(FRAMEWORK, block.id)):
            st.markdown(f"*{block.asks}*")
            left, right = st.columns([3.2, 1], gap="large")
            with left:
                block_form(rubric, block)
            with right:
                fw.evidence_column(block, values, ds)
    fw.save_buttons(rubric, ds)
    fw.export_current(rubric, ds, fw.answers_from_state(rubric))


def metrics_block(rubric, ds: dict, values: dict) -> None:
    block = next(b for b in rubric.sections if b.live)
    st.subheader("The Metrics block, live")
    st.caption("What Gartner's Metrics block asks a CRM strategy to measure, computed from the data for the dataset "
               "and filters in the sidebar. Hover a card for its definition.")
    for group in block.live:
        st.markdown(f"**{group.name}**")
        fw.metric_cards(group.metrics, values, ds, per_row=4)


def scores_section(rubric, card, ds: dict) -> None:
    st.subheader("Maturity")
    o = card.overall
    cards = [
        ("Current maturity", level_text(o["current_mean"]), "Mean current level (1–5) of the rated blocks."),
        ("Target maturity", level_text(o["target_mean"]), "Mean target level (1–5) of the blocks with a target."),
        ("Current, % of best", widgets.pct(o["current_pct"]), ("Current levels ÷ (5 × blocks rated): level 5 "
                                                               "everywhere is 100%.")),
        ("Gap (target − current)", widgets.delta_text(o["target_pct"], o["current_pct"], mode="points") or "–",
         "Target minus current, in percentage points of best practice (one level = 20 pp)."),
        ("Blocks rated", f"{o['current_answered']} of {o['items']}", "Blocks with a current level."),
    ]
    for col, (label, value, help_text) in zip(st.columns(len(cards)), cards):
        with col:
            widgets.metric_card(label, value, help_text)
    if o["current_answered"] == 0 and o["target_answered"] == 0:
        st.info("Rate the blocks above to see the radar and the block scores.", icon=":material/radar:")
    st.plotly_chart(fw_charts.radar_figure(rubric, card.sections), config=CHART_CONFIG, key="gartner_radar")
    fw.scores_table(rubric, card, ds)


def main() -> None:
    st.title("Gartner — eight building blocks of CRM")
    st.markdown(
        "**Gartner · eight building blocks** — how mature is each block a CRM strategy needs, where does the "
        "business mean to be, and what do the metrics say today?"
    )
    widgets.show_flashes()
    ds = data.selected()
    if ds is None:
        st.info("No dataset yet: import your exports on the Data page.", icon=":material/info:")
        return
    rubric = rubrics.rubric(FRAMEWORK)
    scope = state.current_scope(ds["dataset_id"])
    saved = fw.assessments(ds["dataset_id"], FRAMEWORK)
    fw.prepare_form(rubric, ds["dataset_id"], saved)
    card = scoring.score(rubric, fw.answers_from_state(rubric))
    st.caption(f"Evidence scope: {scope.describe()}. Assessments are kept with the dataset “{ds['name']}”.")
    with st.spinner("Computing the evidence from the data…"):
        values = fw.kpi_values(scope, rubric.evidence_ids())
    metrics_block(rubric, ds, values)
    st.divider()
    assessment_section(rubric, ds, card, values, saved)
    st.divider()
    scores_section(rubric, card, ds)
    st.divider()
    st.subheader("Evidence from the data")
    st.caption("The KPIs that speak to each building block, for the dataset and filters in the sidebar.")
    fw.evidence_table(rubric, values, ds)
    st.divider()
    fw.history_section(rubric, ds, saved)


main()
