"""QCI — Quality Competitive Index, all eight areas (DESIGN §1).

The Customer Management Assessment Tool's eight areas, each practice scored for intention and reality (0–4);
area and overall scores as % of best practice, the radar of intention against reality with the published
assessment database as external reference, the evidence the data gives for each area, and the saved
assessments compared with the one before. Thin: ``ui.frameworks`` for the form and the cached KPIs,
``crm_core.frameworks`` for the rubric, the scores and the figures.
"""

from __future__ import annotations

import streamlit as st

from crm_core.frameworks import charts as fw_charts
from crm_core.frameworks import rubrics, scoring
from ui import data, state, widgets
from ui import frameworks as fw
from ui.frame import require_app_frame

require_app_frame()

FRAMEWORK = "qci"
CHART_CONFIG = fw.CHART_CONFIG


def pct(value) -> str:
    return widgets.pct(value)


def practice_rows(rubric, section) -> None:
    dims = dict(rubric.dimensions)
    head = st.columns([4, 3, 3], gap="small")
    head[0].markdown("**Practice**")
    head[1].markdown("**Intention** (0–4)", help=dims["intention"])
    head[2].markdown("**Reality** (0–4)", help=dims["reality"])
    for item in section.items:
        cols = st.columns([4, 3, 3], gap="small", vertical_alignment="center")
        cols[0].markdown(item.statement)
        for col, dim in zip(cols[1:], ("intention", "reality")):
            with col:
                st.segmented_control(
                    f"{dim.capitalize()}: {item.statement}", list(range(rubric.scale_min, rubric.scale_max + 1)),
                    key=fw.answer_key(FRAMEWORK, item.id, dim), label_visibility="collapsed", width="stretch",
                )


def assessment_section(rubric, ds: dict, card, values: dict, saved) -> None:
    st.subheader("Assessment")
    scale = " · ".join(f"**{k}** {v}" for k, v in rubric.levels)
    st.caption(f"Score every practice twice: **Intention** — is it planned and owned? **Reality** — does it happen "
               f"today? Scale: {scale}. Leave a practice empty if you cannot judge it: it does not count either way.")
    fw.open_and_save_bar(rubric, ds, saved)
    rows = {r["section_id"]: r for r in card.sections.to_dicts()}
    for section in rubric.sections:
        r = rows[section.id]
        done = f"{r['reality_answered']}/{r['items']} scored"
        label = f"{section.name} — reality {pct(r['reality_pct'])}, intention {pct(r['intention_pct'])} ({done})"
        with st.expander(label, expanded=False, key=fw.expander_key(FRAMEWORK, section.id)):
            st.markdown(f"*{section.asks}*")
            left, right = st.columns([3.8, 1], gap="medium")
            with left:
                practice_rows(rubric, section)
                st.text_area("Notes", key=fw.note_key(FRAMEWORK, section.id), height=68,
                             placeholder="Evidence, owners, next steps…",
                             help="Saved with the assessment and exported with its answers.")
            with right:
                fw.evidence_column(section, values, ds)
    fw.save_buttons(rubric, ds)
    fw.export_current(rubric, ds, fw.answers_from_state(rubric))


def scores_section(rubric, card, ds: dict) -> None:
    st.subheader("Scores")
    o = card.overall
    average = next((r.value for r in rubric.references if r.id == "average"), None)
    versus = widgets.delta_text(o["score"], average, mode="points") if average is not None else None
    gap = widgets.delta_text(o["intention_pct"], o["reality_pct"], mode="points")
    cards = [
        ("Reality score", pct(o["reality_pct"]), ("Overall Reality: points scored ÷ (4 × practices scored), "
                                                  "over every area — the share of best practice in place today.")),
        ("Intention score", pct(o["intention_pct"]), ("Overall Intention: points ÷ (4 × practices scored) — the "
                                                      "share of best practice planned and owned.")),
        ("Gap (intention − reality)", gap or "–",
         "What is meant but not yet done, in percentage points (pp) of best practice."),
        ("Practices scored", f"{o['reality_answered']} of {o['items']}", "Practices with a Reality score."),
        ("Vs database average", versus or "–", ("Reality score minus the average of the published QCI assessment "
                                                "database (35%) — an external reference, not computed from your "
                                                "data.")),
    ]
    for col, (label, value, help_text) in zip(st.columns(len(cards)), cards):
        with col:
            widgets.metric_card(label, value, help_text)
    if o["reality_answered"] == 0 and o["intention_answered"] == 0:
        st.info("Score practices in the areas above to see the radar and the area scores.", icon=":material/radar:")
    st.plotly_chart(fw_charts.radar_figure(rubric, card.sections), config=CHART_CONFIG, key="qci_radar")
    refs = ", ".join(f"{r.label.lower()} {r.value:.0%}" for r in rubric.references)
    st.caption(f"Dashed circles are external references ({refs}): {rubric.reference_source}")
    fw.scores_table(rubric, card, ds)


def main() -> None:
    st.title("QCI — Quality Competitive Index")
    st.markdown(
        "**QCI · all eight areas** — how well does the business manage its customers? Score each practice for "
        "intention and reality, read the evidence the data gives beside each area, and follow the scores from one "
        "assessment to the next."
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
    assessment_section(rubric, ds, card, values, saved)
    st.divider()
    scores_section(rubric, card, ds)
    st.divider()
    st.subheader("Evidence from the data")
    st.caption("The KPIs that speak to each area, for the dataset and filters in the sidebar; hover a card above "
               "for its definition.")
    fw.evidence_table(rubric, values, ds)
    st.divider()
    fw.history_section(rubric, ds, saved)


main()
