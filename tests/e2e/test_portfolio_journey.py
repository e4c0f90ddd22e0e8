"""Journey: a manager opens CRM Lens on the sample company, goes to the Portfolio page through the sidebar
navigation and sees the KPI cards and the Pareto curve."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import expect

from crm_core.metrics.scope import months_before

from .conftest import back_to_sample, click_for_run, full_screenshot, open_tab, pick_option, wait_ready


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
    # the other sections, a tab each: only the open tab is drawn
    for tab, title in (("RFM segments", "RFM segments"), ("Value × cost to serve", "Value × cost to serve"),
                       ("Top customers", "Top customers")):
        open_tab(page, tab)
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=30_000)
        expect(page.get_by_role("heading", name="Concentration", exact=True)).to_have_count(0)
    expect(page.locator('[data-testid="stMain"]').get_by_role("combobox", name="Customer to look into")).to_be_visible()
    full_screenshot(page, "portfolio_top_customers")


def test_the_last_12_months_compare_with_the_year_before(app_server, page):
    # The sidebar's Period: a manager picks the last 12 months; the window and the scope show the year up to the
    # last purchase day, and every card carries its change against the 12 months before.
    page.goto(f"{app_server}/portfolio")
    wait_ready(page, timeout=120_000)
    back_to_sample(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    period = sidebar.get_by_role("combobox", name="Period", exact=True)
    expect(period).to_have_value("Whole history")
    caption = page.get_by_text("Changes against ", exact=False)

    def choose():
        options(page, period)  # opens the list, however the box takes the click
        page.get_by_role("option", name="Last 12 months", exact=True).click()

    def detour():  # the choice was shown but not sent: choose another, then this one again
        options(page, period)
        page.get_by_role("option", name="Last 6 months", exact=True).click()

    click_for_run(page, choose, detour, done=caption)
    expect(period).to_have_value("Last 12 months")
    expect(caption.first).to_be_visible(timeout=60_000)
    scope = page.get_by_text("Scope: ", exact=False).first.inner_text()  # "Scope: START to END. Money in USD."
    start, end = (date.fromisoformat(d) for d in scope.removeprefix("Scope: ").split(".")[0].split(" to "))
    assert start == months_before(end + timedelta(days=1), 12)  # the day after the same day a year before
    deltas = page.locator('[data-testid="stMetricDelta"]')
    expect(deltas).to_have_count(5, timeout=30_000)
    wait_ready(page)
    full_screenshot(page, "portfolio_last_12_months")


def test_dates_picked_by_hand_carry_to_the_next_page(app_server, page):
    # A manager types another start date: the Period becomes "Custom dates", the scope follows, and the Retention page
    # opened next shows the same window (its views kept meanwhile in the background: crm_core.views.warm_scope).
    page.goto(f"{app_server}/portfolio")
    wait_ready(page, timeout=120_000)
    back_to_sample(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    scope = page.get_by_text("Scope: 2025-01-01 to ", exact=False)

    def type_start(day: str):
        def choose():
            for part, text in zip(("year", "month", "day"), day.split("-"), strict=True):
                sidebar.get_by_role("spinbutton", name=f"{part}, Analysis window start date").click()
                page.keyboard.type(text)
            page.keyboard.press("Enter")
            page.get_by_role("heading", name="Portfolio").first.click()  # leaving the field sends the dates
        return choose

    click_for_run(page, type_start("2025-01-01"), type_start("2025-02-01"), done=scope)
    expect(scope.first).to_be_visible(timeout=60_000)
    expect(sidebar.get_by_role("combobox", name="Period", exact=True)).to_have_value("Custom dates")
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Retention & CLV").click()
    wait_ready(page, timeout=120_000)
    expect(page.get_by_role("heading", name="Retention & CLV").first).to_be_visible(timeout=60_000)
    expect(scope.first).to_be_visible(timeout=60_000)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    wait_ready(page)
    full_screenshot(page, "retention_custom_dates")


def test_the_customer_box_follows_the_drill_down_when_a_filter_drops_the_pick(app_server, page):
    # A customer picked, then a region filter whose top customers leave them out: the box must show the customer
    # the drill-down below shows (it kept showing the old pick while the drill-down moved to the list's first).
    page.goto(f"{app_server}/portfolio")
    wait_ready(page, timeout=120_000)
    back_to_sample(page)
    open_tab(page, "Top customers")
    main = page.locator('[data-testid="stMain"]')
    box = main.get_by_role("combobox", name="Customer to look into", exact=True)
    heading = main.locator("h5").first  # "id · name · region · segment · owner"
    third = options(page, box)[2]
    page.keyboard.press("Escape")
    wait_ready(page)
    pick_option(page, box, third, done=heading.filter(has_text=third))
    expect(box).to_have_value(third)
    picked_id, _, picked_region = heading.inner_text().split(" · ")[:3]

    region_box = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Region", exact=True)
    other = next(o for o in options(page, region_box) if o not in ("Select all", picked_region))
    page.keyboard.press("Escape")

    def choose():
        region_box.click()
        page.get_by_role("option", name=other, exact=True).click()
        page.keyboard.press("Escape")

    def detour():  # the choice was shown but not sent: take it off again
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name=f"Remove {other}").click()

    click_for_run(page, choose, detour, done=heading.filter(has_text=f" · {other} · "))
    expect(heading).to_contain_text(f" · {other} · ", timeout=60_000)
    shown = box.input_value()
    assert not shown.startswith(picked_id)  # the pick is not among the region's top customers
    assert heading.inner_text().startswith(shown)  # "id · name", as the drill-down is headed


def options(page, box) -> list[str]:
    """The option texts of a selectbox or multiselect, its list opened: a click right after a run sometimes only
    focuses the box, so then the arrow key, then its Open button."""
    for how in ("click", "arrow", "button"):
        if how == "click":
            box.click()
        elif how == "arrow":
            box.focus()
            box.press("ArrowDown")
        else:
            box.locator("xpath=ancestor::*[@role='group'][1]").get_by_role("button", name="Open").click()
        listed = page.get_by_role("option")
        try:
            listed.first.wait_for(timeout=3_000)
        except Exception:  # noqa: BLE001 - Playwright's timeout: not open, the next way
            continue
        return [o.inner_text().strip() for o in listed.all()]
    raise AssertionError("the list of options does not open")
