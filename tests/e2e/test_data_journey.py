"""Journey: a new user opens CRM Lens on the sample company, uploads a HubSpot export on the Data page,
imports it into a new dataset, and sees it in the sidebar and the import history."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from .conftest import full_screenshot, wait_ready

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vendors" / "hubspot_deals.csv"


def test_data_page_upload_and_import(app_server, page):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    expect(page.get_by_text("You are looking at sample data")).to_be_visible()
    expect(page.get_by_text("IDIC", exact=False).first).to_be_visible()
    full_screenshot(page, "data_sample")

    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(FIXTURE))
    wait_ready(page)
    expect(page.get_by_text("hubspot_deals.csv", exact=False).first).to_be_visible()
    expect(page.get_by_text("HubSpot", exact=False).first).to_be_visible()

    page.get_by_label("Name of the new dataset").fill("HubSpot deals")
    page.get_by_label("Name of the new dataset").press("Enter")
    wait_ready(page)
    page.get_by_role("button", name="Import into HubSpot deals").click()
    wait_ready(page)
    expect(page.get_by_text("Imported into", exact=False).first).to_be_visible(timeout=30_000)
    # the new dataset is selected in the sidebar, so the sample banner is gone
    expect(page.get_by_text("You are looking at sample data")).to_have_count(0)
    expect(page.get_by_text("hubspot_deals.csv").first).to_be_visible()
    # a deals-only dataset: its won deals are its purchases
    expect(page.get_by_text("none (won deals stand in)")).to_be_visible()
    full_screenshot(page, "data_imported")


def test_deep_link_as_first_request_keeps_the_frame(fresh_app_server, page):
    # A bookmark to /data as a new server's first request must still get app.py's frame.
    page.goto(f"{fresh_app_server}/data")
    wait_ready(page, timeout=120_000)
    expect(page.locator('[data-testid="stSidebar"]').get_by_text("Dataset")).to_be_visible()
    expect(page.get_by_text("You are looking at sample data")).to_be_visible()
    expect(page.get_by_role("heading", name="Import exports")).to_be_visible()
