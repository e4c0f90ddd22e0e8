"""The bad-input corpus (tests/fixtures/bad) through the Data page: each upload shows a message
naming the problem, nothing of the dashboard breaks, and the store is unchanged (issue #8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ui import state

from .test_data_page import DATA_PAGE, assert_clean

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
EXPECTED: dict[str, str] = json.loads((BAD / "expected.json").read_text())
# Every file of the corpus the uploader takes; a .json or .xls file is refused by the uploader itself (its
# accepted types, enforced by the browser) before the app sees it, and goes through the CLI test instead.
SAMPLE = sorted(n for n in EXPECTED if Path(n).suffix.lstrip(".").casefold() in state.UPLOAD_TYPES)


def shown_text(at) -> str:
    parts = [e.value for e in at.error] + [w.value for w in at.warning]
    for df in at.dataframe:
        if {"Value", "Problem"} <= set(df.value.columns):  # the upload's problems table
            parts += [f"{v} {p}" for v, p in zip(df.value["Value"], df.value["Problem"])]
    return " | ".join(parts)


@pytest.mark.parametrize("name", SAMPLE)
def test_a_bad_upload_shows_the_problem_and_changes_nothing(app, store, name):
    app.switch_page(DATA_PAGE).run()
    before = store.snapshot()
    mime = "application/octet-stream"
    app.file_uploader(key=state.UPLOAD).upload(name, (BAD / name).read_bytes(), mime).run()
    assert_clean(app)
    text = shown_text(app)
    assert EXPECTED[name].casefold() in text.casefold(), text
    assert store.snapshot() == before


def test_the_data_page_states_the_upload_limit_from_the_config(app):
    import streamlit as st

    app.switch_page(DATA_PAGE).run()
    limit = st.get_option("server.maxUploadSize")
    assert f"up to {limit} MB per file" in app.file_uploader(key=state.UPLOAD).label
