"""Journey: a manager opens the Executive review on the sample company through the sidebar navigation, reads the
KPI cards and highlights, prepares the reports and downloads the PDF to hand round."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import back_to_sample, full_screenshot, wait_ready


def test_review_page_downloads_the_pdf_report(app_server, page, tmp_path):
    page.goto(f"{app_server}/")
    wait_ready(page, timeout=120_000)  # the first start loads the sample company
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Executive review").click()
    wait_ready(page)
    back_to_sample(page)
    expect(page.get_by_role("heading", name="Executive review").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Payne & Frow · performance assessment")).to_be_visible()
    for label in ("Revenue", "Active customers", "Retention rate", "Churn rate", "Net Promoter Score"):
        expect(page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Highlights")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Cites: ")).first).to_be_visible()

    page.get_by_role("button", name="Prepare the reports").click()
    download_pdf = page.get_by_role("button", name="Download PDF")
    expect(download_pdf).to_be_visible(timeout=180_000)
    with page.expect_download(timeout=60_000) as info:
        download_pdf.click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes()[:5] == b"%PDF-"
    assert saved.stat().st_size > 50_000  # charts embedded
    expect(page.get_by_role("button", name=re.compile(r"^Download HTML"))).to_be_visible()
    wait_ready(page)
    full_screenshot(page, "executive_review")
