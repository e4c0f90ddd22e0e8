"""Journeys on the Cost to serve page of the sample company: a manager goes there through the sidebar navigation
and sees the KPI cards, the cost by pool and the whale curve; an analyst types a new rate into the rate editor's
table, saves it, sees the page repriced, and resets the rates."""

from __future__ import annotations

from playwright.sync_api import expect

from .conftest import back_to_sample, full_screenshot, wait_ready


def open_cost_page(app_server, page) -> None:
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Cost to serve").click()
    wait_ready(page)
    back_to_sample(page)
    expect(page.get_by_role("heading", name="Cost to serve").first).to_be_visible(timeout=30_000)


def test_cost_page_shows_kpis_and_the_whale_curve(app_server, page):
    open_cost_page(app_server, page)
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


def rates_expander(page):
    expander = page.locator("details").filter(has=page.locator("summary", has_text="Cost rates")).first
    if expander.get_attribute("open") is None:
        expander.locator("summary").click()
    return expander


def test_a_rate_typed_into_the_editor_reprices_the_page(app_server, page):
    open_cost_page(app_server, page)
    cost = page.locator('[data-testid="stMetric"]').filter(has_text="Cost per customer")
    value = cost.locator('[data-testid="stMetricValue"]')
    before = value.inner_text()
    grid = rates_expander(page).locator('[data-testid="stDataFrameResizable"]')
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # the expander has opened and the page has stopped scrolling
    box = grid.bounding_box()
    # the first row (call, per contact, 0.50) of the Rate column, the third of four: the cells are drawn on a
    # canvas, so the row under the 35-pixel header is clicked by position
    page.mouse.click(box["x"] + box["width"] * 0.62, box["y"] + 35 + 17)
    page.keyboard.press("Enter")  # opens the cell's editor
    page.wait_for_timeout(300)
    page.keyboard.press("Control+A")
    page.keyboard.type("123", delay=50)
    page.keyboard.press("Enter")
    wait_ready(page)
    rates_expander(page).get_by_role("button", name="Save rates").click()
    wait_ready(page)
    expect(page.get_by_text("Cost rates saved.")).to_be_visible()
    expect(value).not_to_have_text(before)  # 123 per call instead of 0.50: more cost per customer
    after = float(value.inner_text().removesuffix(" USD").replace(",", ""))
    assert after > float(before.removesuffix(" USD").replace(",", ""))
    full_screenshot(page, "cost_to_serve_rate_saved")
    rates_expander(page).get_by_role("button", name="Reset to defaults").click()
    wait_ready(page)
    expect(page.get_by_text("Cost rates reset to the defaults.")).to_be_visible()
    expect(value).to_have_text(before)
