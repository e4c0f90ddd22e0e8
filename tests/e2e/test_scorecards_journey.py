"""Journey: a manager opens CRM Lens on the sample company, scores part of a QCI assessment, saves it and sees it in
the history, glances at the Gartner page, then walks the IDIC model's stages on the CRM models page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import back_to_sample, full_screenshot, press_option, wait_ready


def nav(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True).click()
    wait_ready(page)


def test_score_save_and_walk_the_models(app_server, page):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    nav(page, "QCI")
    back_to_sample(page)
    expect(page.get_by_role("heading", name="QCI — Quality Competitive Index").first).to_be_visible(timeout=30_000)

    area = page.locator('[data-testid="stExpander"]').first
    area.locator("summary").click()
    wait_ready(page)
    expect(area.get_by_text("Evidence from the data")).to_be_visible()
    expect(area.get_by_text("Customers", exact=True)).to_be_visible()
    groups = area.locator('[data-testid="stButtonGroup"]')
    for i, value in enumerate(["4", "2", "3", "1"]):  # ap1 intention 4, reality 2; ap2 intention 3, reality 1
        press_option(page, groups.nth(i), value)
    expect(area.locator("summary")).to_contain_text("reality 37.5%, intention 87.5%")
    page.get_by_role("textbox", name="Assessed by").fill("Journey")
    page.get_by_role("textbox", name="Assessed by").press("Enter")
    wait_ready(page)
    page.get_by_role("button", name="Save as a new assessment").click()
    wait_ready(page)
    expect(page.get_by_text(re.compile(r"Assessment #\d+ saved"))).to_be_visible(timeout=30_000)
    expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text("37.5%")
    expect(page.get_by_text("QCI scorecard")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("External reference: database average 35%")).to_be_visible()
    expect(area.get_by_text("Evidence from the data")).to_be_visible()  # the filled area stays open
    full_screenshot(page, "qci")

    page.set_viewport_size({"width": 1400, "height": 900})
    nav(page, "Gartner")
    expect(page.get_by_role("heading", name="The Metrics block, live")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Gartner building blocks maturity")).to_be_visible(timeout=30_000)
    full_screenshot(page, "gartner")

    page.set_viewport_size({"width": 1400, "height": 900})
    nav(page, "CRM models")
    expect(page.get_by_role("heading", name="1. Customer portfolio analysis")).to_be_visible(timeout=30_000)
    press_option(page, page.locator('[data-testid="stMain"] [data-testid="stRadio"]').first, "IDIC")
    for heading in ("1. Identify", "2. Differentiate", "3. Interact", "4. Customize"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)
    expect(page.locator('[data-testid="stMetricLabel"]').get_by_text("Data completeness", exact=True)).to_be_visible()
    full_screenshot(page, "models")
