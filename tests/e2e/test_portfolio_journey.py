"""Journey: a manager opens CRM Lens on the sample company, goes to the Portfolio page through the sidebar
navigation and sees the KPI cards and the Pareto curve."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import back_to_sample, full_screenshot, wait_ready


def test_portfolio_page_shows_kpis_and_the_pareto_curve(app_server, page):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Portfolio").click()
    wait_ready(page)
    back_to_sample(page)
    expect(page.get_by_text("You are looking at sample data")).to_be_visible()
    expect(page.get_by_role("heading", name="Portfolio").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("CRM value chain · customer portfolio analysis")).to_be_visible()
    metrics = page.locator('[data-testid="stMetric"]')
    expect(metrics.first).to_be_visible()
    for label in ("Customers", "Revenue (USD)", "Top-20% share", "Gini (revenue)", "Class A customers"):
        expect(page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).to_be_visible()
    expect(page.get_by_text("previous period incomplete").first).to_be_visible()
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    expect(chart).to_be_visible(timeout=30_000)
    expect(chart.get_by_text("Concentration of revenue (Pareto curve)")).to_be_visible(timeout=30_000)
    wait_ready(page)
    full_screenshot(page, "portfolio")
