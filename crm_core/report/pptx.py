"""The report as PowerPoint (python-pptx): a title slide (dataset, period, filters), a highlights slide, then
one slide per section of the walk with its main chart and its key numbers (the section's question and notes
in the speaker notes)."""

from __future__ import annotations

import io

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from crm_core.report.sections import Report

BLUE = RGBColor(0x00, 0x72, 0xB2)
GREY = RGBColor(0x5A, 0x60, 0x69)
WIDE, HIGH = Inches(13.333), Inches(7.5)


def _text_box(slide, left, top, width, height, lines: list[tuple[str, int, bool, RGBColor | None]]):
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    for i, (text, size, bold, color) in enumerate(lines):
        p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        run = p.add_run()
        run.text = text
        run.font.size = Pt(size)
        run.font.bold = bold
        if color is not None:
            run.font.color.rgb = color
        p.space_after = Pt(4)
    return box


def _title(slide, text: str, sub: str | None = None) -> None:
    slide.shapes.title.text = text
    tf = slide.shapes.title.text_frame
    for p in tf.paragraphs:
        for r in p.runs:
            r.font.size = Pt(30)
            r.font.bold = True
            r.font.color.rgb = BLUE
    slide.shapes.title.left, slide.shapes.title.top = Inches(0.5), Inches(0.3)
    slide.shapes.title.width, slide.shapes.title.height = WIDE - Inches(1.0), Inches(0.9)
    if sub:
        _text_box(slide, Inches(0.5), Inches(1.1), WIDE - Inches(1.0), Inches(0.5), [(sub, 14, False, GREY)])


def write_pptx(report: Report, images: dict[str, bytes]) -> bytes:
    """The .pptx bytes. ``images``: PNG per figure, keyed ``"<section key>/<figure key>"``."""
    prs = Presentation()
    prs.slide_width, prs.slide_height = WIDE, HIGH
    title_layout, only_title = prs.slide_layouts[0], prs.slide_layouts[5]

    slide = prs.slides.add_slide(title_layout)
    slide.shapes.title.text = report.title
    for p in slide.shapes.title.text_frame.paragraphs:
        for r in p.runs:
            r.font.color.rgb = BLUE
            r.font.size = Pt(36)
    slide.shapes.title.left, slide.shapes.title.width = Inches(0.8), WIDE - Inches(1.6)
    sub = slide.placeholders[1]
    sub.left, sub.width, sub.top, sub.height = Inches(0.8), WIDE - Inches(1.6), Inches(4.0), Inches(2.8)
    tf = sub.text_frame
    lines = [f"Dataset: {report.dataset}", f"Period: {report.period_text}",
             "Filters: " + "; ".join(f"{k}: {v}" for k, v in report.filters),
             f"Made {report.generated_at:%Y-%m-%d %H:%M} by CRM Lens"]
    for i, line in enumerate(lines):
        p = tf.paragraphs[0] if i == 0 else tf.add_paragraph()
        p.text = line
        for r in p.runs:
            r.font.size = Pt(16)

    if report.review.highlights:
        slide = prs.slides.add_slide(only_title)
        _title(slide, "Highlights", f"{report.period.label}" + (
            f" against {report.period.previous_label}" if report.period.comparable else ""))
        _text_box(slide, Inches(0.6), Inches(1.8), WIDE - Inches(1.2), HIGH - Inches(2.2),
                  [(f"•  {h.text}", 18, False, None) for h in report.review.highlights])
        slide.notes_slide.notes_text_frame.text = "\n".join(
            f"{h.text} — cites " + "; ".join(f"{c.what} = {c.value} ({c.source})" for c in h.cites)
            for h in report.review.highlights)

    for sec in report.sections:
        slide = prs.slides.add_slide(only_title)
        _title(slide, sec.title, sec.stage)
        top = Inches(1.75)
        numbers_w = Inches(3.6)
        chart_w = WIDE - numbers_w - Inches(1.2)
        fig = next((f for f in sec.figures if images.get(f"{sec.key}/{f.key}")), None)
        if fig is not None:
            png = images[f"{sec.key}/{fig.key}"]
            from PIL import Image

            with Image.open(io.BytesIO(png)) as im:
                px_w, px_h = im.size
            max_h = HIGH - top - Inches(0.3)
            width, height = chart_w, Emu(int(chart_w * px_h / px_w))
            if height > max_h:
                height, width = max_h, Emu(int(max_h * px_w / px_h))
            slide.shapes.add_picture(io.BytesIO(png), Inches(0.5), top, width=width, height=height)
        # label (small, grey) then value (large, bold) for each key number
        lines = []
        for label, value in sec.numbers:
            lines.append((label, 11, False, GREY))
            lines.append((value, 18, True, None))
        if not lines:
            lines = [(n, 12, False, GREY) for n in sec.notes] or [("No figures for this period.", 12, False, GREY)]
        _text_box(slide, WIDE - numbers_w - Inches(0.4), top, numbers_w, HIGH - top - Inches(0.3), lines)
        slide.notes_slide.notes_text_frame.text = "\n".join([sec.question, *sec.notes] + [
            f"Also in the PDF and HTML reports: {f.title}" for f in sec.figures[1:]])
    buffer = io.BytesIO()
    prs.save(buffer)
    return buffer.getvalue()
