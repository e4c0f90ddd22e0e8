"""Every report format made from the sample company and opened again: PDF text holds the KPIs, the period and
the filters, with page numbers; the PowerPoint has one slide per section with its chart; the HTML holds every
figure, interactive, with plotly.js inline (opens offline); the Excel workbook holds every table."""

from __future__ import annotations

import html
import io
import re

import polars as pl
import pytest
from pptx import Presentation
from pypdf import PdfReader

from crm_core.metrics import highlights as hl
from crm_core.report import ReportError, export, images


def pdf_text(data: bytes) -> tuple[list[str], str]:
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]
    return pages, "\n".join(pages)


def test_sections_follow_the_walk(report):
    assert [s.title for s in report.sections] == [
        "Executive review", "Portfolio", "Differentiate", "Retention & CLV", "Cost to serve"]
    assert all(s.stage and s.numbers and s.figures and s.tables for s in report.sections)
    assert 3 <= len(report.review.highlights) <= 6


def test_pdf_holds_the_kpis_the_period_and_page_numbers(report, chart_pngs):
    data = export.write(report, "pdf", images=chart_pngs)
    assert data.startswith(b"%PDF")
    pages, text = pdf_text(data)
    title = pages[0]
    assert report.dataset.split(" (")[0] in title
    assert report.period.label in title and report.period.previous_label in title
    for label in ("Filter: region", "Filter: segment", "Filter: channel", "Filter: owner"):
        assert label in title
    for r in report.review.kpis.to_dicts():
        assert r["label"] in text
        assert hl.format_value(r["metric_id"], r["current"], report.money_unit) in text
    for sec in report.sections:
        assert sec.title in text and sec.stage in text
    assert f"Page 1 of {len(pages)}" in pages[0] and f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "→" in text or "−" in text  # signs the core PDF fonts lack: DejaVu Sans is embedded
    reader = PdfReader(io.BytesIO(data))
    assert sum(len(p.images) for p in reader.pages) == len(chart_pngs)


def test_pdf_title_page_names_the_filters_applied(filtered_report, filtered_pngs):
    pages, _ = pdf_text(export.write(filtered_report, "pdf", images=filtered_pngs))
    title = re.sub(r"\s+", " ", pages[0])
    assert "Filter: region Europe" in title
    assert "Filter: channel Online" in title
    assert "Filter: segment all" in title


def test_pptx_has_a_slide_per_section_with_its_chart(report, chart_pngs):
    prs = Presentation(io.BytesIO(export.write(report, "pptx", images=chart_pngs)))
    slides = list(prs.slides)
    titles = [s.shapes.title.text for s in slides]
    assert titles[0] == report.title and titles[1] == "Highlights"
    assert titles[2:] == [s.title for s in report.sections]
    for slide, sec in zip(slides[2:], report.sections):
        pictures = [sh for sh in slide.shapes if sh.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
        assert len(pictures) == 1, sec.title
        text = " ".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame)
        for label, value in sec.numbers:
            assert label in text and value in text
    highlights = " ".join(sh.text_frame.text for sh in slides[1].shapes if sh.has_text_frame)
    assert all(h.text in highlights for h in report.review.highlights)


def test_html_is_self_contained_and_holds_every_figure(report):
    page = export.write(report, "html").decode("utf-8")
    figures = report.all_figures()
    assert page.count('class="plotly-graph-div"') == len(figures)
    for sec in report.sections:
        for fig in sec.figures:
            assert f'id="fig-{sec.key}-{fig.key}"' in page
    assert page.count("Plotly.newPlot") >= len(figures)
    assert "plotly.js v" in page or "plotly.min.js" in page or "Plotly=" in page  # the library itself, inline
    assert not re.search(r"<script[^>]+src=", page), "no external scripts: the file opens offline"
    assert not re.search(r"<link[^>]+href=\"https?:", page)
    for h in report.review.highlights:
        assert html.escape(h.text) in page


def test_xlsx_holds_every_table(report):
    data = export.write(report, "xlsx")
    sheets = pl.read_excel(io.BytesIO(data), sheet_id=0, has_header=False)
    names = list(sheets)
    assert names[0] == "Report"
    n_tables = sum(len(s.tables) for s in report.sections)
    assert len(names) == 1 + n_tables
    cover = sheets["Report"]
    assert report.dataset in cover.to_series(1).to_list()
    at_risk = next(name for name in names if "at risk" in name)
    assert sheets[at_risk].height >= 4


def test_without_a_browser_pdf_and_pptx_say_so_and_html_still_works(report, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    assert images.find_browser() is None
    for fmt in ("pdf", "pptx"):
        with pytest.raises(ReportError, match="Chromium or Google Chrome"):
            export.write(report, fmt)
    assert b"plotly-graph-div" in export.write(report, "html")


def test_unknown_format(report):
    with pytest.raises(ReportError, match="formats are"):
        export.write(report, "docx")
