"""Journey: a manager opens CRM Lens on the sample company, goes to the Differentiate page through the sidebar
navigation and sees the Identify KPIs, the segment charts and the per-segment actions, changes the number of
segments, and downloads the customer list (every customer, though the page shows only its first rows)."""

from __future__ import annotations

import csv
import re

from playwright.sync_api import expect

from .conftest import back_to_sample, full_screenshot, open_tab, pick_option, wait_ready


def test_differentiate_page_shows_segments_and_charts(app_server, page):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Differentiate").click()
    wait_ready(page, timeout=120_000)  # the first fit of the segments takes a few seconds
    back_to_sample(page)
    expect(page.get_by_role("heading", name="Differentiate").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("IDIC · Identify, Differentiate, Interact, Customize")).to_be_visible()
    for label in ("Identified", "Contactable", "Segments", "Silhouette"):
        expect(page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).to_be_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts.first).to_be_visible(timeout=30_000)
    for title in ("Size and value per segment", "Segment profiles"):
        expect(page.get_by_text(title, exact=True).first).to_be_visible(timeout=30_000)
    # the silhouettes are drawn once their expander is opened (it reruns the tabs)
    expect(page.get_by_text("Silhouette by number of segments", exact=True)).to_have_count(0)
    summaries = page.locator('[data-testid="stMain"] details summary')
    summaries.filter(has_text="How the number of segments was chosen").click()
    expect(page.get_by_text("Silhouette by number of segments", exact=True).first).to_be_visible(timeout=30_000)
    wait_ready(page)
    full_screenshot(page, "differentiate")

    # another number of segments: the segment sections rerun alone (a fragment)
    main = page.locator('[data-testid="stMain"]')
    segments = (main.locator('[data-testid="stMetric"]').filter(has_text="Segments")
                .locator('[data-testid="stMetricValue"]'))
    pick_option(page, main.get_by_role("combobox", name="Number of segments", exact=True), "3 segments",
                done=segments.filter(has_text=re.compile(r"^3$")))
    wait_ready(page, timeout=120_000)
    expect(segments).to_have_text("3")

    # CLV tiers, Interact and Customize, a tab each, follow the three segments
    open_tab(page, "CLV tiers")
    expect(page.get_by_role("heading", name="CLV tiers")).to_be_visible()
    expect(page.get_by_text("CLV tiers as Excel")).to_be_visible()
    open_tab(page, "Interact")
    for title in ("Channel mix per segment", "Interaction intensity per segment"):
        expect(page.get_by_text(title, exact=True).first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Segment profiles", exact=True)).to_have_count(0)  # only the open tab is drawn
    open_tab(page, "Customize")
    expect(page.get_by_role("heading", name="Customize")).to_be_visible()
    expect(page.get_by_text("Customer list as Excel")).to_be_visible()
    caption = main.get_by_text(re.compile(r"^[\d,]+ customers\.$"))
    expected = int(caption.inner_text().split()[0].replace(",", ""))
    with page.expect_download() as download:
        main.get_by_role("button", name="Customer list as CSV").click()
    with open(download.value.path(), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == expected  # every customer of every segment
    assert len({row["segment"] for row in rows}) == 3
    full_screenshot(page, "differentiate_three_segments")
