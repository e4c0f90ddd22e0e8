"""Differentiate — IDIC *Identify, Differentiate, Interact, Customize* (DESIGN §1).

Which customers do we know and can reach, how they differ in value and needs (k-means segments on recency,
frequency, revenue, tenure, CLV, cost to serve and channel mix), how each segment buys and is served, and what
to do for each — with the customer list of every segment to download for the CRM. Thin: filters → ``ui.data``
cached engine calls → charts.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from crm_core import charts, views
from crm_core.metrics import catalog
from ui import data, figures, state, widgets
from ui.frame import require_app_frame

require_app_frame()

EMPTY_WINDOW = "No purchases in the analysis window"
CANNOT_SEGMENT = "Too few customers to segment"
NO_CLV = "CLV cannot be fitted for this data"
ALL_SEGMENTS = "All segments"
K_OPTIONS: list[str | int] = ["auto", *views.SEGMENT_KS]  # each prepared after an import
CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}

IDENTIFIED_HELP = (
    "Customers in the customers table of the dataset that pass the region, segment and owner filters and "
    "were created by the end of the analysis window (or have no creation date).\n\nFormula: count(customers)"
)
CONTACTABLE_HELP = (
    "Share of the identified customers with usable contact data: an email or a phone number that is not "
    "blank.\n\nFormula: customers with email or phone / customers identified"
)
EMAIL_HELP = "Share of the identified customers with a non-blank email.\n\nFormula: with email / identified"
PHONE_HELP = "Share of the identified customers with a non-blank phone number.\n\nFormula: with phone / identified"
SILHOUETTE_HELP = (
    "Mean silhouette of the segmentation (Rousseeuw 1987): how much closer each customer is to its own "
    "segment than to the next one, from −1 to 1; above 0.25 the segments are reasonably distinct."
)
SEGMENTS_HELP = "Number of k-means segments: chosen by the best silhouette among 2–8, or the number picked above."

# Profile columns shown in the heat table: profile column -> label with unit ({unit}: money unit).
FEATURE_LABELS = {
    "mean_recency_days": "Recency (days)",
    "mean_frequency": "Frequency (purchase days)",
    "mean_monetary": "Revenue per customer ({unit})",
    "mean_tenure_days": "Tenure (days)",
    "mean_clv": "CLV 12 m per customer ({unit})",
    "mean_cost_to_serve": "Cost to serve per customer ({unit})",
}


def feature_labels(profile: pl.DataFrame, unit: str) -> dict[str, str]:
    labels = {c: label.format(unit=unit) for c, label in FEATURE_LABELS.items() if c in profile.columns}
    for c in profile.columns:
        if c.startswith("mean_share_"):
            labels[c] = c.removeprefix("mean_share_").replace("_", " ").title() + " (% of purchases)"
    return labels


# ---------------------------------------------------------------------------- sections
def identify_figures(ident: dict) -> dict:
    """The Identify cards' figures of an ``identify_summary``: the count and the shares of the identified."""
    n = ident["identified"]
    return {"identified": n, "contactable": ident["contactable_share"],
            "with_email": ident["with_email"] / n if n else None, "with_phone": ident["with_phone"] / n if n else None}


def identify_section(scope, buyers: int | None, span=None) -> None:
    """The Identify KPI cards, with their changes against the previous period of equal length when the dataset has
    purchases (``span``) and the data covers that period."""
    st.subheader("Identify")
    ident = data.identify_summary(scope)
    n = ident["identified"]
    now = identify_figures(ident)
    previous, incomplete = widgets.previous_period(scope, span) if span else (None, False)
    compare = previous is not None and not incomplete
    before = identify_figures(data.identify_summary(previous)) if compare else {}
    if compare and buyers is not None:
        before["bought"] = data.buyer_count(previous)

    def delta(key: str, current, mode: str = "relative") -> str | None:
        return widgets.delta_text(current, before.get(key), mode=mode) if compare else None

    cards = [
        ("Identified", f"{n:,}", IDENTIFIED_HELP, delta("identified", n), "normal"),
        ("Contactable", widgets.pct(now["contactable"]), CONTACTABLE_HELP,
         delta("contactable", now["contactable"], "points"), "normal"),
        ("With email", widgets.pct(now["with_email"]), EMAIL_HELP, delta("with_email", now["with_email"], "points"),
         "normal"),
        ("With phone", widgets.pct(now["with_phone"]), PHONE_HELP, delta("with_phone", now["with_phone"], "points"),
         "normal"),
        ("Bought in window", "–" if buyers is None else f"{buyers:,}", catalog.metric("customers").help,
         delta("bought", buyers), "normal"),
    ]
    if span:
        widgets.kpi_row(cards, previous, incomplete, span)
    else:  # no purchases: no window to compare
        for col, (label, value, help_text, _, _) in zip(st.columns(len(cards)), cards):
            with col:
                widgets.kpi_card(label, value, help_text)
    if not n:
        st.caption("No customer records in scope: import a customers export (with email and phone) on the Data "
                   "page to know whom you can reach.")
    else:
        st.caption(f"{ident['contactable']:,} of {n:,} identified customers can be reached by email or phone.")


def differentiate_section(seg: dict, unit: str, name: str, currency: str | None) -> None:
    profile = seg["profile"]
    c1, c2, c3 = st.columns(3)
    with c1:
        widgets.kpi_card("Segments", f"{seg['k']}", SEGMENTS_HELP)
    with c2:
        widgets.kpi_card("Silhouette", "–" if seg["silhouette"] != seg["silhouette"] else f"{seg['silhouette']:.2f}",
                         SILHOUETTE_HELP)
    with c3:
        widgets.kpi_card("Segmented", f"{seg['customers'] - seg['skipped']:,}",
                         "Customers who bought in the window with every feature known (k-means needs all of them).")
    features = ", ".join(f.removeprefix("share_").replace("_", " ") + (" share" if f.startswith("share_") else "")
                         for f in seg["features"])
    st.caption(f"K-means on standardised log features: {features}. Segments are numbered from most to least "
               "valuable and named by rules (segment_names.yaml)."
               + (" These are the segments of all customers: the region, segment and owner filters show which of "
                  "their customers are in each (a customer keeps its segment whatever the filter), with their "
                  "sizes and profiles; the silhouette is that of all customers." if seg.get("of_all_customers")
                  else ""))
    for note in seg["notes"]:
        st.caption(note)

    # drawn only when opened (a rerun of the tabs): a change of the number of segments redraws every chart of
    # this tab, and without the silhouettes and the CLV tiers (a tab of their own) it draws two instead of four:
    # 0.77-0.81 s -> 0.51-0.52 s at 1M customers (medians of six changes in headless Chromium, two runs each)
    silhouettes = st.expander("How the number of segments was chosen", key=state.DIFFERENTIATE_SILHOUETTES,
                              on_change="rerun", icon=":material/query_stats:")
    if silhouettes.open:
        with silhouettes:
            silhouette_section(seg, name)
    figures.plot(charts.segment_size_figure, profile, config=CHART_CONFIG, key="differentiate_size")

    labels = feature_labels(profile, unit)
    figures.plot(charts.profile_heatmap, profile, labels, config=CHART_CONFIG, key="differentiate_profile")
    table = profile.select(
        pl.col("segment").alias("Segment"),
        pl.col("customers").alias("Customers"),
        pl.col("customer_share").alias("% of customers"),
        pl.col("revenue").alias(f"Revenue ({unit})"),
        pl.col("revenue_share").alias("% of revenue"),
        *[pl.col(c).alias(label) for c, label in labels.items()],
        pl.col("main_channel").alias("Main channel"),
        pl.col("silhouette").alias("Silhouette"),
    )
    widgets.show_table(table, f"{name}_segment_profiles", "differentiate_profile_table", what="segment profiles",
               column_config={
                   **widgets.count_columns(["Customers"]), **widgets.share_columns("% of customers", "% of revenue"),
                   **widgets.money_columns(unit, f"Revenue ({unit})"),
                   **{label: st.column_config.NumberColumn(label, format="%.1f") for label in labels.values()},
                   **widgets.share_columns(*[label for c, label in labels.items() if c.startswith("mean_share_")]),
                   "Silhouette": st.column_config.NumberColumn("Silhouette", format="%.2f"),
               })


def silhouette_section(seg: dict, name: str) -> None:
    if not seg["silhouette_by_k"]:
        st.caption("No silhouette: the customers have a single profile.")
        return
    figures.plot(charts.silhouette_figure, seg["silhouette_by_k"], seg["k"], config=CHART_CONFIG,
                 key="differentiate_silhouette")
    sil = pl.DataFrame({"k": list(seg["silhouette_by_k"]), "Mean silhouette": list(seg["silhouette_by_k"].values())},
                       schema={"k": pl.Int64, "Mean silhouette": pl.Float64})
    widgets.download_table(sil, f"{name}_silhouette_by_k", key="differentiate_silhouette_data", what="silhouette data")


def clv_tier_section(seg: dict, unit: str, name: str, currency: str | None) -> None:
    st.subheader("CLV tiers")
    if not seg["has_clv"]:
        st.info(f"{NO_CLV}: the purchase history is too short or too thin for the BG/NBD and Gamma-Gamma models, "
                "so customers are not split into CLV tiers (segments are built without CLV).",
                icon=":material/info:")
        return
    tiers = seg["tiers"]
    st.caption("Customers ranked by predicted CLV over the next 12 months (BG/NBD + Gamma-Gamma): the top 20%, "
               "the middle 60% and the bottom 20%"
               + (" of all customers; the filters' customers are counted in the tiers they hold there."
                  if seg.get("of_all_customers") else "."))
    figures.plot(charts.clv_tier_figure, tiers, currency=currency, config=CHART_CONFIG, key="differentiate_clv")
    frame = tiers.select(
        pl.col("tier").cast(pl.String).alias("CLV tier"),
        pl.col("customers").alias("Customers"),
        pl.col("customer_share").alias("% of customers"),
        pl.col("clv").alias(f"Predicted CLV ({unit})"),
        pl.col("clv_share").alias("% of predicted CLV"),
        pl.col("mean_clv").alias(f"Mean CLV ({unit})"),
        pl.col("revenue").alias(f"Revenue in window ({unit})"),
    )
    widgets.show_table(frame, f"{name}_clv_tiers", "differentiate_clv_tiers", what="CLV tiers", column_config={
        **widgets.count_columns(["Customers"]), **widgets.share_columns("% of customers", "% of predicted CLV"),
        **widgets.money_columns(unit, f"Predicted CLV ({unit})", f"Mean CLV ({unit})", f"Revenue in window ({unit})"),
    })


def interact_section(seg: dict, ds: dict, unit: str, name: str, currency: str | None) -> None:
    st.subheader("Interact")
    profile, intensity = seg["profile"], seg["intensity"]
    left, right = st.columns(2, gap="large")
    with left:
        if any(c.startswith("mean_share_") for c in profile.columns):
            figures.plot(charts.channel_mix_figure, profile, config=CHART_CONFIG, key="differentiate_channels")
        else:
            st.info("No sales channel in this data: import purchases with a channel column to see the channel mix "
                    "per segment.", icon=":material/info:")
    with right:
        figures.plot(charts.segment_intensity_figure, intensity, currency=currency, config=CHART_CONFIG,
                     key="differentiate_intensity")
    if not int(ds.get("interactions") or 0):
        st.info("No interactions in this data, so interactions and cost to serve per customer are 0. Import an "
                "interactions export (calls, emails, meetings, tickets) on the Data page.", icon=":material/info:")
    mix_cols = [c for c in profile.columns if c.startswith("mean_share_")]
    frame = intensity.join(profile.select("segment_id", *mix_cols), on="segment_id", how="left").select(
        pl.col("segment").alias("Segment"),
        pl.col("customers").alias("Customers"),
        pl.col("interactions_per_customer").alias("Interactions per customer"),
        pl.col("cost_per_customer").alias(f"Cost to serve per customer ({unit})"),
        pl.col("cost_per_revenue").alias("Cost to serve per revenue"),
        *[pl.col(c).alias(c.removeprefix("mean_share_").replace("_", " ").title() + " share") for c in mix_cols],
    )
    shares = [c for c in frame.columns if c.endswith(" share")]
    widgets.show_table(frame, f"{name}_segment_interaction", "differentiate_interaction", what="interaction table",
               column_config={
                   **widgets.count_columns(["Customers"]),
                   "Interactions per customer": st.column_config.NumberColumn(format="%.1f"),
                   f"Cost to serve per customer ({unit})": st.column_config.NumberColumn(format="%,.2f"),
                   "Cost to serve per revenue": st.column_config.NumberColumn(format="percent"),
                   **widgets.share_columns(*shares),
               })


def customize_section(seg: dict, scope, unit: str, name: str) -> None:
    st.subheader("Customize")
    profile = seg["profile"]
    st.caption("Suggested action per segment (rules in segment_names.yaml); download each segment's customers "
               "to act on them in the CRM.")
    actions = profile.select(
        pl.col("segment").alias("Segment"),
        pl.col("customers").alias("Customers"),
        pl.col("revenue_share").alias("% of revenue"),
        pl.col("main_channel").str.replace_all("_", " ").str.to_titlecase().alias("Main channel"),
        pl.col("action").alias("Suggested action"),
    )
    widgets.show_table(actions, f"{name}_segment_actions", "differentiate_actions", what="segment actions", column_config={
        **widgets.count_columns(["Customers"]), **widgets.share_columns("% of revenue"),
        "Suggested action": st.column_config.TextColumn("Suggested action", width="large"),
    })

    names = profile["segment"].to_list()
    if st.session_state.get(state.DIFFERENTIATE_SEGMENT) not in [ALL_SEGMENTS, *names]:
        # set, not forgotten: a segment another k or filter no longer has would stay shown in the browser's box
        st.session_state[state.DIFFERENTIATE_SEGMENT] = ALL_SEGMENTS
    pick = st.selectbox("Customer list of", [ALL_SEGMENTS, *names], key=state.DIFFERENTIATE_SEGMENT,
                        help="The customers of one segment (or all) with contact data and main figures.")
    segment = None if pick == ALL_SEGMENTS else pick
    clv = [pl.col("clv").alias(f"CLV 12 m ({unit})"), pl.col("clv_tier").alias("CLV tier")] if seg["has_clv"] else []

    def customers(limit: int | None = None) -> pl.DataFrame:
        # the first rows to show now; every row only when a download is clicked
        return views.members(seg, data.member_details(scope), segment, limit).select(
            "customer_id", "name", "email", "phone", "segment",
            pl.col("revenue").alias(f"revenue ({unit})"), "purchases", "recency_days",
            pl.col("cost_to_serve").alias(f"cost_to_serve ({unit})"), "interactions",
            *[c for c in clv],
        )

    frame = customers(widgets.MAX_TABLE_ROWS)
    counts = dict(zip(profile["segment"].to_list(), profile["customers"].to_list(), strict=True))
    total = sum(counts.values()) if segment is None else counts[segment]
    st.caption(f"{total:,} customers" + ("" if pick == ALL_SEGMENTS else f" in {pick}") + ".")
    label = "all_segments" if pick == ALL_SEGMENTS else pick
    widgets.show_table(frame, f"{name}_{label}_customers", "differentiate_members", what="customer list",
                       total=total, whole=customers, column_config={
        "customer_id": "Customer", "name": "Name", "email": "Email", "phone": "Phone", "segment": "Segment",
        f"revenue ({unit})": st.column_config.NumberColumn(f"Revenue ({unit})", format="%,.0f"),
        "purchases": st.column_config.NumberColumn("Purchase days", format="localized"),
        "recency_days": st.column_config.NumberColumn("Recency (days)", format="localized"),
        f"cost_to_serve ({unit})": st.column_config.NumberColumn(f"Cost to serve ({unit})", format="%,.2f"),
        "interactions": st.column_config.NumberColumn("Interactions", format="localized"),
        f"CLV 12 m ({unit})": st.column_config.NumberColumn(f"CLV 12 m ({unit})", format="%,.0f"),
    })


# ---------------------------------------------------------------------------- page
def main() -> None:
    st.title("Differentiate")
    st.markdown(
        "**IDIC · Identify, Differentiate, Interact, Customize** — which customers do we know and can reach, how "
        "do they differ in value and needs, how do we interact with each group, and what should we do for each?"
    )
    ds = data.selected()
    if ds is None:
        st.info("No dataset yet: import your exports on the Data page.", icon=":material/info:")
        return
    scope = state.current_scope(ds["dataset_id"])
    currency = ds.get("currency")
    unit = charts.money_unit(currency)
    name = ds["name"]
    widgets.scope_caption(scope, currency)
    span = data.purchase_span(ds["dataset_id"])
    if span is None:
        identify_section(scope, None)
        st.info("This dataset has no purchases yet: import transactions (orders, invoices) or won deals on the Data "
                "page to segment customers.", icon=":material/info:")
        return

    st.session_state.setdefault(state.DIFFERENTIATE_K, "auto")
    with st.spinner("Fitting k-means segments…"):
        seg = data.segmentation(scope, st.session_state[state.DIFFERENTIATE_K])
    identify_section(scope, seg["customers"], span)
    st.divider()
    if not seg["customers"]:
        st.info(f"{EMPTY_WINDOW} ({scope.describe()}). Widen the analysis window or clear filters in the sidebar.",
                icon=":material/event_busy:")
        return
    segments(scope, ds, unit, name, currency)
    if "labels" in seg:  # last: the customer lists and a region filter then find the member details read
        data.keep_member_details(scope)


@widgets.section("Differentiate page")
def segments(scope, ds: dict, unit: str, name: str, currency: str | None) -> None:
    """Differentiate, Interact and Customize: the part of the page that changes with the number of segments, the
    tab opened and the customer list picked (a fragment: those widgets rerun this part only)."""
    segment_sections(scope, ds, unit, name, currency)


def segment_sections(scope, ds: dict, unit: str, name: str, currency: str | None) -> None:
    k = st.session_state[state.DIFFERENTIATE_K]
    with st.spinner("Fitting k-means segments…"):
        seg = data.segmentation(scope, k)  # the same (cached) report as the page's for this k
    st.selectbox(
        "Number of segments", K_OPTIONS, key=state.DIFFERENTIATE_K,
        format_func=lambda v: "Automatic (best silhouette, 2–8)" if v == "auto" else f"{v} segments",
        help="Automatic picks the k with the best mean silhouette; choose a number to fix it.", width=360,
    )
    if "error" in seg:
        st.warning(f"{CANNOT_SEGMENT}: {seg['error']} Widen the analysis window, clear filters or choose fewer "
                   "segments.", icon=":material/warning:")
        return
    # the number of segments is chosen above the tabs: all three follow it
    def differentiate() -> None:
        st.subheader("Differentiate")
        differentiate_section(seg, unit, name, currency)

    widgets.page_tabs({  # IDIC's last three stages, value tiers beside the segments; Identify's cards stand above
        "Differentiate": differentiate,
        "CLV tiers": lambda: clv_tier_section(seg, unit, name, currency),
        "Interact": lambda: interact_section(seg, ds, unit, name, currency),
        "Customize": lambda: customize_section(seg, scope, unit, name),
    }, state.DIFFERENTIATE_TAB, keep=[state.DIFFERENTIATE_SEGMENT, state.DIFFERENTIATE_SILHOUETTES])


main()
