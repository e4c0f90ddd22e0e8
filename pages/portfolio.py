"""Portfolio — CRM value chain *customer portfolio analysis* (DESIGN §1, issue #4).

Which customers make the revenue, how concentrated it is (Pareto curve, top-20 % share, Gini), ABC classes,
RFM segments, the value × cost-to-serve matrix (Shapiro et al. 1987) and the top customers with a drill-down
into one customer's history, CLV and P(alive). Thin: filters → ``ui.data`` cached engine calls → charts.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import charts
from crm_core.metrics import catalog
from ui import data, figures, state, widgets
from ui.frame import require_app_frame

require_app_frame()

# Widget keys of this page (ui/state.py is not this file; move them there when it is next edited).
CUSTOMER_PICK = state.PORTFOLIO_CUSTOMER

EMPTY_WINDOW = "No purchases in the analysis window"
NO_INTERACTIONS = (
    "No cost to serve in this data: the dataset has no interactions, so every customer's cost to serve is 0 and "
    "the matrix below only separates customers by value. Import an interactions export (calls, emails, meetings, "
    "tickets — e.g. Salesforce Tasks/Events, HubSpot Calls/Emails/Meetings, helpdesk tickets) on the Data page "
    "to place customers on the cost axis."
)
A_SHARE_HELP = (
    "Share of the customers who bought in the window that fall in class A: the customers who, ranked by "
    "revenue, together make the first 80 % of revenue.\n\nFormula: customers in class A / customers"
)
CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def money(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{value:,.0f} {unit}"


# Display labels of the history tables' columns (downloads keep the canonical names).
HISTORY_LABELS = {
    "purchase_id": "Purchase", "interaction_id": "Interaction", "occurred_at": "Date", "responded_at": "Date",
    "amount": "Amount", "cost": "Cost", "quantity": "Quantity", "discount": "Discount", "product": "Product",
    "category": "Category", "channel": "Channel", "status": "Status", "kind": "Kind", "owner": "Owner",
    "duration_minutes": "Minutes", "outcome": "Outcome", "nps": "NPS (0–10)", "csat": "CSAT (1–5)",
    "comment": "Comment",
}


def history_columns(frame: pl.DataFrame, unit: str) -> dict:
    config = {}
    for column in frame.columns:
        label = HISTORY_LABELS.get(column, column)
        if column in ("occurred_at", "responded_at"):
            config[column] = st.column_config.DatetimeColumn(label, format="YYYY-MM-DD")
        elif column in ("amount", "cost", "discount"):
            config[column] = st.column_config.NumberColumn(f"{label} ({unit})", format="%,.2f")
        else:
            config[column] = label
    return config


# ---------------------------------------------------------------------------- sections
def kpis(scope, span, summary: dict, unit: str) -> None:
    previous, incomplete = widgets.previous_period(scope, span)
    before = data.portfolio_kpis(previous) if previous is not None and not incomplete else None

    def delta(key: str, mode: str = "relative") -> str | None:
        return widgets.delta_text(summary.get(key), before.get(key), mode=mode) if before else None

    cards = [
        ("Customers", f"{summary['customers']:,}", catalog.metric("customers").help, delta("customers"), "normal"),
        (f"Revenue ({unit})", widgets.compact(summary["revenue"]), catalog.metric("revenue").help,
         delta("revenue"), "normal"),
        ("Top-20% share", widgets.pct(summary["top20_share_revenue"]), catalog.metric("top20_revenue_share").help,
         delta("top20_share_revenue", "points"), "off"),
        ("Gini (revenue)", "–" if summary["gini_revenue"] is None else f"{summary['gini_revenue']:.2f}",
         catalog.metric("gini").help, delta("gini_revenue", "absolute"), "off"),
        ("Class A customers", widgets.pct(summary["abc_a_share"]), A_SHARE_HELP, delta("abc_a_share", "points"), "off"),
    ]
    widgets.kpi_row(cards, previous, incomplete, span)


def concentration(p: dict) -> None:
    st.subheader("Concentration")
    figures.plot(charts.pareto_figure, p["curve"], p["pareto_point"], value_label="revenue", config=CHART_CONFIG,
                 key="portfolio_pareto")
    s = p["summary"]
    st.caption(
        f"The top 10% of customers make {widgets.pct(s['top10_share_revenue'])} and the top 20% make "
        f"{widgets.pct(s['top20_share_revenue'])} of revenue"
        + (f"; {widgets.pct(s['top20_share_margin'])} of gross margin." if s["top20_share_margin"] is not None else ".")
    )
    download = p["curve"].select(
        pl.col("customer_share").alias("Share of customers"), pl.col("value_share").alias("Cumulative share of revenue")
    )
    widgets.download_table(download, "pareto_curve", key="portfolio_pareto_data", what="curve data")
    if p["customers"] > download.height:
        st.caption(f"Curve data: {download.height:,} points along the {p['customers']:,} customers.")


def abc_section(p: dict, unit: str, name: str) -> None:
    st.subheader("ABC classes")
    st.caption("A: the customers making the first 80% of revenue; B: up to 95%; C: the rest.")
    frame = p["abc"].select(
        pl.col("abc").cast(pl.String).alias("Class"),
        pl.col("customers").alias("Customers"),
        pl.col("customer_share").alias("% of customers"),
        pl.col("value").alias(f"Revenue ({unit})"),
        pl.col("value_share").alias("% of revenue"),
    )
    widgets.show_table(frame, f"{name}_abc", "portfolio_abc", what="ABC table", column_config={
        **widgets.count_columns(["Customers"]), **widgets.share_columns("% of customers", "% of revenue"),
        **widgets.money_columns(unit, f"Revenue ({unit})"),
    })


def rfm_section(scope, unit: str, name: str, currency: str | None) -> None:
    st.subheader("RFM segments")
    with st.spinner("Scoring recency, frequency and value…"):
        p = data.portfolio_rfm(scope)
    st.caption(
        "Recency, frequency and monetary value scored 1–5 by quintile among the buyers; segments named after "
        "Putler / Kabasakal (2020)."
        + (f" {p['rfm_excluded']:,} customers without a usable score are left out." if p["rfm_excluded"] else "")
    )
    figures.plot(charts.rfm_treemap, p["rfm"], currency=currency, config=CHART_CONFIG, key="portfolio_rfm")
    frame = p["rfm"].select(
        pl.col("segment").cast(pl.String).alias("Segment"),
        pl.col("customers").alias("Customers"),
        pl.col("customer_share").alias("% of customers"),
        pl.col("revenue").alias(f"Revenue ({unit})"),
        pl.col("revenue_share").alias("% of revenue"),
    )
    widgets.show_table(frame, f"{name}_rfm_segments", "portfolio_rfm", what="RFM table", column_config={
        **widgets.count_columns(["Customers"]), **widgets.share_columns("% of customers", "% of revenue"),
        **widgets.money_columns(unit, f"Revenue ({unit})"),
    })


def quadrant_section(scope, ds: dict, unit: str, name: str, currency: str | None) -> None:
    st.subheader("Value × cost to serve")
    with st.spinner("Placing customers by value and cost to serve…"):
        p = data.portfolio_quadrants(scope)
    if not p["cost_known"] or not int(ds.get("interactions") or 0):
        st.info(NO_INTERACTIONS, icon=":material/info:")
    quadrants = p["quadrants"]
    figures.plot(charts.quadrant_figure, quadrants, currency=currency, axes=p["quadrant_axes"], config=CHART_CONFIG,
                 key="portfolio_quadrants")
    drawn = min(quadrants.height, charts.MAX_POINTS)  # results kept under an older limit hold 2,000 or 5,000
    if p["quadrant_count"] > drawn:
        st.caption(
            f"The chart draws a random sample of {drawn:,} of the {p['quadrant_count']:,} customers; the table "
            "below counts all of them."
        )
    frame = p["quadrant_summary"].select(
        pl.col("quadrant").cast(pl.String).alias("Quadrant"),
        pl.col("customers").alias("Customers"),
        pl.col("customer_share").alias("Share of customers"),
        pl.col("value").alias(f"Value ({unit})"),
        pl.col("cost").alias(f"Cost to serve ({unit})"),
        pl.col("profit").alias(f"Net profit ({unit})"),
        pl.col("profit_share").alias("Share of profit"),
    )
    widgets.show_table(frame, f"{name}_value_cost_quadrants", "portfolio_quadrants", what="quadrant table", column_config={
        **widgets.count_columns(["Customers"]), **widgets.share_columns("Share of customers", "Share of profit"),
        **widgets.money_columns(unit, f"Value ({unit})", f"Cost to serve ({unit})", f"Net profit ({unit})"),
    })
    st.caption(
        "Carriage trade: high value, costly to serve · Passive: high value, cheap to serve · Aggressive: low "
        "value, costly · Bargain basement: low value, cheap (split at the medians; value is gross margin where "
        "every sale has a cost, else revenue)."
    )


@widgets.section("Portfolio page, top customers")  # a customer picked reruns this section alone
def top_section(ds: dict, scope, span, unit: str, name: str, currency: str | None) -> None:
    st.subheader("Top customers")
    with st.spinner("Ranking customers by revenue…"):
        top = data.portfolio_top(scope)
    frame = top.select(
        pl.col("customer_id").alias("Customer"),
        pl.col("name").alias("Name"),
        pl.col("region").alias("Region"),
        pl.col("segment").alias("Segment"),
        pl.col("revenue").alias(f"Revenue ({unit})"),
        pl.col("margin").alias(f"Margin ({unit})"),
        pl.col("purchases").alias("Purchases"),
        pl.col("last_purchase_in_window").alias("Last purchase"),
        pl.col("net_profit").alias(f"Net profit ({unit})"),
    )
    st.caption(f"The {top.height} customers with the most revenue in the window.")
    widgets.show_table(frame, f"{name}_top_customers", "portfolio_top", what="top customers", column_config={
        **widgets.count_columns(["Purchases"]),
        **widgets.money_columns(unit, f"Revenue ({unit})", f"Margin ({unit})", f"Net profit ({unit})"),
        "Last purchase": st.column_config.DatetimeColumn("Last purchase", format="YYYY-MM-DD"),
    })

    labels = {r["customer_id"]: r["customer_id"] + (f" · {r['name']}" if r.get("name") else "") for r in top.to_dicts()}
    ids = list(labels)
    if ids and st.session_state.get(CUSTOMER_PICK) not in ids:
        # set, not forgotten: a pick the new list (another filter, window or dataset) no longer holds left the box
        # showing that customer in the browser while the drill-down below showed the first one
        st.session_state[CUSTOMER_PICK] = ids[0]
    customer_id = st.selectbox("Customer to look into", ids, format_func=labels.get, key=CUSTOMER_PICK,
                               help="One of the top customers: their purchases, interactions, feedback and CLV.")
    if customer_id is not None:
        drill_down(ds, customer_id, scope, span, unit, currency)


def drill_down(ds: dict, customer_id: str, scope, span, unit: str, currency: str | None) -> None:
    history = data.customer_history(ds["dataset_id"], customer_id)
    profile, facts = history.profile or {}, history.facts or {}
    st.markdown(
        f"##### {customer_id}" + (f" · {profile['name']}" if profile.get("name") else "")
        + " · ".join([""] + [str(profile[k]) for k in ("region", "segment", "owner") if profile.get(k)])
    )
    calibration_end = scope.end or span[1]
    scores, why = data.top_scores(scope, calibration_end)  # the customer is one of the scope's top customers
    row = scores.filter(pl.col("customer_id") == customer_id).to_dicts() if scores is not None else []
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        widgets.kpi_card("Revenue, all time", money(facts.get("revenue"), unit), catalog.metric("historical_clv").help)
    with c2:
        widgets.kpi_card("Net profit, all time", money(facts.get("net_profit"), unit), catalog.metric("net_profit").help)
    with c3:
        widgets.kpi_card("CLV, next 12 months", money(row[0]["clv"], unit) if row else "–",
                         catalog.metric("avg_clv").help)
    with c4:
        widgets.kpi_card("P(alive)", widgets.pct(row[0]["p_alive"]) if row else "–", catalog.metric("p_alive").help)
    if why:
        st.warning(f"CLV and P(alive) cannot be shown for this data: {why}", icon=":material/warning:")
    elif not row:
        st.caption(f"CLV and P(alive): {customer_id} had no purchase by {calibration_end:%Y-%m-%d}.")
    else:
        st.caption(f"BG/NBD + Gamma-Gamma fitted on the whole dataset up to {calibration_end:%Y-%m-%d}.")

    tabs = st.tabs([
        f"Purchases ({history.purchases.height:,})",
        f"Interactions ({history.interactions.height:,})",
        f"Feedback ({history.feedback.height:,})",
    ])
    file_base = f"{customer_id}"
    with tabs[0]:
        if history.purchases.is_empty():
            st.caption("No purchases recorded.")
        else:
            figures.plot(charts.purchases_figure, history.purchases, customer=customer_id, currency=currency,
                         config=CHART_CONFIG, key="portfolio_customer_purchases")
            widgets.show_table(history.purchases, f"{file_base}_purchases", "portfolio_customer_purchases", what="purchases",
                       column_config=history_columns(history.purchases, unit))
    with tabs[1]:
        if history.interactions.is_empty():
            st.caption("No interactions recorded for this customer (an interactions export would add them).")
        else:
            widgets.show_table(history.interactions, f"{file_base}_interactions", "portfolio_customer_interactions",
                       what="interactions", column_config=history_columns(history.interactions, unit))
    with tabs[2]:
        if history.feedback.is_empty():
            st.caption("No survey answers from this customer (a feedback export would add them).")
        else:
            widgets.show_table(history.feedback, f"{file_base}_feedback", "portfolio_customer_feedback", what="feedback",
                       column_config=history_columns(history.feedback, unit))


# ---------------------------------------------------------------------------- page
def main() -> None:
    st.title("Portfolio")
    st.markdown(
        "**CRM value chain · customer portfolio analysis** — which customers make our revenue, how "
        "concentrated is it, and which customers cost more to serve than they bring?"
    )
    ds = data.selected()
    if ds is None:
        st.info("No dataset yet: import your exports on the Data page.", icon=":material/info:")
        return
    span = data.purchase_span(ds["dataset_id"])
    if span is None:
        st.info(
            "This dataset has no purchases yet: import transactions (orders, invoices) or won deals on the Data "
            "page to analyse the portfolio.",
            icon=":material/info:",
        )
        return
    scope = state.current_scope(ds["dataset_id"])
    currency = ds.get("currency")
    unit = charts.money_unit(currency)
    name = ds["name"]
    widgets.scope_caption(scope, currency)
    with st.spinner("Analysing the portfolio…"):
        p = data.portfolio(scope)
    if not p["customers"]:
        st.info(
            f"{EMPTY_WINDOW} ({scope.describe()}). Widen the analysis window or clear filters in the sidebar.",
            icon=":material/event_busy:",
        )
        return
    kpis(scope, span, p["summary"], unit)
    sections(p, ds, scope, span, unit, name, currency)


@widgets.section("Portfolio page")  # a tab opened reruns the tabs alone, not the sidebar and the KPI cards
def sections(p: dict, ds: dict, scope, span, unit: str, name: str, currency: str | None) -> None:
    def concentration_and_abc() -> None:
        left, right = st.columns(2, gap="large")
        with left:
            concentration(p)
        with right:
            abc_section(p, unit, name)

    widgets.page_tabs({
        "Concentration": concentration_and_abc,
        "RFM segments": lambda: rfm_section(scope, unit, name, currency),
        "Value × cost to serve": lambda: quadrant_section(scope, ds, unit, name, currency),
        "Top customers": lambda: top_section(ds, scope, span, unit, name, currency),
    }, state.PORTFOLIO_TAB, keep=[CUSTOMER_PICK])


main()
