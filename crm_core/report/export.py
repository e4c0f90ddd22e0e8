"""One entry point for every report format: :func:`make_report` computes the content once (or takes it),
renders the chart images where the format needs them, and writes the file's bytes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from crm_core.report import ReportError
from crm_core.report.sections import Report

log = logging.getLogger(__name__)

#: format -> (file extension, MIME type, needs chart images)
FORMATS: dict[str, tuple[str, str, bool]] = {
    "pdf": (".pdf", "application/pdf", True),
    "html": (".html", "text/html", False),
    "pptx": (".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", True),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", False),
}


def chart_images(report: Report, *, progress: Callable[[int, int], None] | None = None) -> dict[str, bytes]:
    """PNG of every figure of the report, keyed ``"<section key>/<figure key>"`` (one browser for all).
    Raises :class:`ReportError` when no Chromium/Chrome can make them."""
    from crm_core.report.images import render_pngs

    keys, figs = [], []
    for sec in report.sections:
        for f in sec.figures:
            keys.append(f"{sec.key}/{f.key}")
            figs.append(f.figure)
    return dict(zip(keys, render_pngs(figs, progress=progress)))


def write(report: Report, fmt: str, *, images: dict[str, bytes] | None = None,
          progress: Callable[[int, int], None] | None = None) -> bytes:
    """The report in ``fmt`` (pdf, html, pptx, xlsx) as bytes. PDF and PowerPoint render the chart images
    unless ``images`` are given (:func:`chart_images`)."""
    if fmt not in FORMATS:
        raise ReportError(f"Report formats are {', '.join(FORMATS)}, not {fmt!r}.")
    if fmt == "html":
        from crm_core.report.html import write_html

        return write_html(report)
    if fmt == "xlsx":
        from crm_core.report.xlsx import write_xlsx

        return write_xlsx(report)
    if images is None:
        images = chart_images(report, progress=progress)
    if fmt == "pdf":
        from crm_core.report.pdf import write_pdf

        return write_pdf(report, images)
    from crm_core.report.pptx import write_pptx

    return write_pptx(report, images)
