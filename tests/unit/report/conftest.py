"""The sample company once per session, its quarter report built once, and its chart images rendered once
(headless Chromium through kaleido). Image tests are skipped with the reason where no Chromium exists, except
under CI=true, where that fails."""

from __future__ import annotations

import os

import pytest

from crm_core.metrics.scope import Scope, filter_options
from crm_core.report import export, images, periods, sections
from crm_core.store import Store


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("report") / "sample.duckdb")
    ds = s.load_sample(customers=600).dataset_id
    yield s, ds
    s.close()


@pytest.fixture(scope="session")
def quarter(sample_store):
    store, ds = sample_store
    return periods.review_period(Scope(ds), "quarter", filter_options(store, ds)["span"])


@pytest.fixture(scope="session")
def report(sample_store, quarter):
    store, _ = sample_store
    return sections.build_report(store, quarter)


@pytest.fixture(scope="session")
def filtered_report(sample_store):
    """A report with filters applied (region and channel), to check the title page names them."""
    store, ds = sample_store
    scope = Scope(ds, regions=("Europe",), channels=("Online",))
    return sections.build_report(store, periods.review_period(scope, "quarter", filter_options(store, ds)["span"]))


def need_browser():
    if images.find_browser() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no Chromium: .ci/run must install Debian's chromium")
        pytest.skip("no Chromium/Chrome on this machine: chart images (PDF, PowerPoint) cannot be made")


@pytest.fixture(scope="session")
def chart_pngs(report):
    need_browser()
    return export.chart_images(report)


@pytest.fixture(scope="session")
def filtered_pngs(filtered_report):
    need_browser()
    return export.chart_images(filtered_report)
