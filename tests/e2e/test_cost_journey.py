"""Journey: a manager opens CRM Lens on the sample company, goes to the Cost to serve page through the sidebar
navigation and sees the KPI cards, the cost by pool and the whale curve."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import full_screenshot, wait_ready


def test_cost_page_shows_kpis_and_the_whale_curve(app_server, page):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Cost to serve").click()
    wait_ready(page)
    if not page.get_by_text("You are looking at sample data").count():
        # an earlier journey of the session imported (and selected) another dataset: back to the sample
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name=re.compile(r"\(sample\)")).click()
        wait_ready(page)
    expect(page.get_by_role("heading", name="Cost to serve").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("CRM value chain · value proposition")).to_be_visible()
    for label in ("Cost per customer", "Cost / revenue", "Net profit (USD)", "Unprofitable", "Whale peak"):
        expect(page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).to_be_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts.first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Cost to serve by activity pool")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Whale curve of customer profitability")).to_be_visible(timeout=30_000)
    expect(charts).to_have_count(5)
    wait_ready(page)
    full_screenshot(page, "cost_to_serve")
