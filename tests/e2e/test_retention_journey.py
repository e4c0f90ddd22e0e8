"""Journey: a manager opens CRM Lens on the sample company, goes to the Retention & CLV page through the sidebar
navigation and sees the KPI cards, the cohort heatmap, survival, CLV and the holdout check."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import back_to_sample, full_screenshot, open_tab, wait_ready


def test_retention_page_shows_kpis_and_charts(app_server, page):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Retention & CLV").click()
    wait_ready(page, timeout=120_000)  # the page fits the CLV models
    back_to_sample(page)
    expect(page.get_by_role("heading", name="Retention & CLV").first).to_be_visible(timeout=30_000)
    for label in ("Repeat purchase rate", "Churn rate", "Median lifetime", "Net revenue retention"):
        expect(page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).to_be_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts.first).to_be_visible(timeout=60_000)
    expect(charts.first.get_by_text(re.compile("Cohort retention by month"))).to_be_visible(timeout=30_000)
    wait_ready(page, timeout=120_000)
    full_screenshot(page, "retention")
    drawn = charts.count()
    # the other sections, a tab each: only the open tab is drawn
    for tab, title in (("Churn & survival", "Customer survival (Kaplan-Meier)"),
                       ("Lifetime value", "P(alive) by recency and frequency"),
                       ("Holdout check", re.compile("Holdout check .*predicted vs actual"))):
        open_tab(page, tab)
        expect(page.get_by_text(title).first).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile("Cohort retention by month"))).to_have_count(0)
        wait_ready(page, timeout=120_000)
        drawn += charts.count()
        full_screenshot(page, "retention_" + tab.split()[0].lower())
    assert drawn == 6
