"""CRM models — all six seed models (DESIGN §1).

Pick a model — CRM value chain, IDIC, QCI, Payne & Frow, Gartner's building blocks, the CRM conceptual model —
and walk its stages in order: what each stage asks, its live KPI cards from the metric catalog, the page that
serves it, and for a stage without data the export that would feed it. Thin: ``crm_core.frameworks.crm_models``
for the models, ``ui.frameworks`` for the cached KPIs.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core.frameworks import crm_models, evidence
from crm_core.metrics import catalog
from ui import data, state, widgets
from ui import frameworks as fw
from ui.frame import require_app_frame

require_app_frame()

PAGE_TITLES = {  # the pages of the walk a stage can link to (app.py PAGES)
    "pages/data.py": "Data",
    "pages/portfolio.py": "Portfolio",
    "pages/differentiate.py": "Differentiate",
    "pages/retention.py": "Retention & CLV",
    "pages/cost_to_serve.py": "Cost to serve",
    "pages/qci.py": "QCI",
    "pages/gartner.py": "Gartner",
}


def stage_block(number: int, stage, values: dict, ds: dict) -> dict:
    st.subheader(f"{number}. {stage.name}")
    st.markdown(stage.asks)
    status = crm_models.stage_status(stage, values, ds)
    if status["has_data"]:
        fw.metric_cards(stage.metrics, values, ds, per_row=4)
    if status["message"]:
        st.info(status["message"], icon=":material/upload_file:" if status["missing"] else ":material/filter_alt:")
    if stage.page in PAGE_TITLES:
        st.page_link(stage.page, label=f"Explore on the {PAGE_TITLES[stage.page]} page", icon=":material/arrow_forward:")
    return status


def main() -> None:
    st.title("CRM models")
    st.markdown(
        "**All six CRM models** — pick a model and walk its stages in order: what each stage asks, and what the "
        "data says about it now."
    )
    widgets.show_flashes()
    ds = data.selected()
    if ds is None:
        st.info("No dataset yet: import your exports on the Data page.", icon=":material/info:")
        return
    models = {m.id: m for m in crm_models.crm_models()}
    if st.session_state.get(fw.MODEL_PICK) not in models:
        st.session_state[fw.MODEL_PICK] = next(iter(models))
    chosen = st.radio("CRM model", list(models), key=fw.MODEL_PICK, horizontal=True,
                      format_func=lambda m: models[m].name,
                      help="The six seed models of CRM Lens; every page of the walk serves one of their stages.")
    model = models[chosen]
    st.markdown(f"**{model.name}** — {model.summary}")
    st.caption(f"Source: {model.source}")
    scope = state.current_scope(ds["dataset_id"])
    st.caption(f"KPIs for {scope.describe()} (dataset “{ds['name']}”); hover a card for its definition.")
    ids = [m for s in model.stages for m in s.metrics]
    with st.spinner("Computing the stages' KPIs…"):
        values = fw.kpi_values(scope, ids)
    rows = []
    for number, stage in enumerate(model.stages, start=1):
        st.divider()
        status = stage_block(number, stage, values, ds)
        for mid in stage.metrics:
            v = values.get(mid)
            rows.append({"Stage": f"{number}. {stage.name}", "Metric": catalog.metric(mid).label,
                         "Value": evidence.format_value(mid, v, ds.get("currency")),
                         "Value (number)": None if v is None else float(v), "Catalog id": mid,
                         "Stage has data": status["has_data"]})
    st.divider()
    st.subheader("All stages in one table")
    frame = pl.DataFrame(rows, schema={"Stage": pl.String, "Metric": pl.String, "Value": pl.String,
                                       "Value (number)": pl.Float64, "Catalog id": pl.String,
                                       "Stage has data": pl.Boolean}, orient="row")
    widgets.show_table(frame, f"{ds['name']}_{model.id}_stages", "models_stage_table", what="stage KPIs")


main()
