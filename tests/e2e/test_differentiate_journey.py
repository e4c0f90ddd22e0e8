"""Journey: a manager opens CRM Lens on the sample company, goes to the Differentiate page through the sidebar
navigation and sees the Identify KPIs, the segment charts and the per-segment actions."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import full_screenshot, wait_ready


def test_differentiate_page_shows_segments_and_charts(app_server, page):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Differentiate").click()
    wait_ready(page, timeout=120_000)  # the first fit of the segments takes a few seconds
    if not page.get_by_text("You are looking at sample data").count():
        # an earlier journey of the session imported (and selected) another dataset: back to the sample
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name=re.compile(r"\(sample\)")).click()
        wait_ready(page, timeout=120_000)
    expect(page.get_by_role("heading", name="Differentiate").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("IDIC · Identify, Differentiate, Interact, Customize")).to_be_visible()
    for label in ("Identified", "Contactable", "Segments", "Silhouette"):
        expect(page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).to_be_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts.first).to_be_visible(timeout=30_000)
    for title in ("Silhouette by number of segments", "Size and value per segment", "Segment profiles",
                  "Channel mix per segment", "Interaction intensity per segment"):
        expect(page.get_by_text(title, exact=True).first).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Customize")).to_be_visible()
    expect(page.get_by_text("Customer list as Excel")).to_be_visible()
    wait_ready(page)
    full_screenshot(page, "differentiate")
