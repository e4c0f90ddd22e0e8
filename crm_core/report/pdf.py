"""The report as PDF (fpdf2): a title page with the dataset, the period and the filters applied and the
highlights; then one section per page of the walk, each starting on a new page with its key numbers, chart
images and tables; page numbers in the footer. Text in DejaVu Sans (embedded: the core PDF fonts have no "€",
"→" or "−"); chart images from :mod:`crm_core.report.images`.
"""

from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from crm_core.report import ReportError
from crm_core.report.sections import Report, ReportTable, cell_text

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu"),
    Path("/Library/Fonts"),
)
FONT = "DejaVu"
BLUE = (0, 114, 178)
GREY = (90, 96, 105)
LIGHT = (241, 244, 247)
MARGIN = 15


def font_files() -> tuple[Path, Path]:
    """DejaVuSans.ttf and DejaVuSans-Bold.ttf, or :class:`ReportError` saying how to install them."""
    for d in FONT_DIRS:
        regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            return regular, bold
    raise ReportError(
        "PDF reports need the DejaVu Sans font (for €, → and other signs) and it was not found in "
        + ", ".join(str(d) for d in FONT_DIRS) + ". Install it (Debian/Ubuntu: apt-get install fonts-dejavu-core)."
    )


class _Pdf(FPDF):
    def __init__(self, title: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_title = title
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=18)
        regular, bold = font_files()
        self.add_font(FONT, "", str(regular))
        self.add_font(FONT, "B", str(bold))
        self.set_title(title)
        self.set_author("CRM Lens")
        self.set_creator("CRM Lens")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 5, self.report_title, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def _heading(pdf: _Pdf, text: str, size: float = 18) -> None:
    pdf.set_font(FONT, "B", size)
    pdf.set_text_color(*BLUE)
    pdf.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)


def _text(pdf: _Pdf, text: str, size: float = 10, bold: bool = False, color=(0, 0, 0), gap: float = 1.5) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0, 0, 0)
    pdf.ln(gap)


def _numbers(pdf: _Pdf, numbers: list[tuple[str, str]]) -> None:
    """Key numbers as a grid of boxes, three to a row."""
    if not numbers:
        return
    per_row, gap = 3, 3
    width = (pdf.w - 2 * MARGIN - gap * (per_row - 1)) / per_row
    height = 15
    for i in range(0, len(numbers), per_row):
        if pdf.get_y() + height > pdf.h - 20:
            pdf.add_page()
        y = pdf.get_y()
        for j, (label, value) in enumerate(numbers[i:i + per_row]):
            x = MARGIN + j * (width + gap)
            pdf.set_fill_color(*LIGHT)
            pdf.rect(x, y, width, height, style="F")
            pdf.set_xy(x + 2, y + 1.5)
            pdf.set_font(FONT, "", 7.5)
            pdf.set_text_color(*GREY)
            pdf.cell(width - 4, 4, label)
            pdf.set_xy(x + 2, y + 6.5)
            pdf.set_font(FONT, "B", 11)
            pdf.set_text_color(0, 0, 0)
            pdf.cell(width - 4, 6, value)
        pdf.set_xy(MARGIN, y + height + gap)
    pdf.ln(2)


def _image(pdf: _Pdf, png: bytes, title: str) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        px_w, px_h = im.size
    width = pdf.w - 2 * MARGIN
    height = width * px_h / px_w
    max_height = pdf.h - 40
    if height > max_height:
        height = max_height
        width = height * px_w / px_h
    if pdf.get_y() + height > pdf.h - 20:
        pdf.add_page()
    x = (pdf.w - width) / 2
    pdf.image(io.BytesIO(png), x=x, y=pdf.get_y(), w=width, h=height, title=title, alt_text=title)
    pdf.set_y(pdf.get_y() + height + 4)


def _table(pdf: _Pdf, table: ReportTable, money_unit: str) -> None:
    frame = table.frame
    if pdf.get_y() > pdf.h - 50:
        pdf.add_page()
    _text(pdf, table.title, 11, bold=True, gap=1)
    if frame.is_empty():
        _text(pdf, "No rows.", 8.5, color=GREY)
        return
    kinds = {c: table.kind(c) for c in frame.columns}
    numeric = {c for c, k in kinds.items() if k in {"money", "share", "count", "number", "ratio"}}
    # column widths from the longest text in each column (header included), shared out over the page width
    texts = [[cell_text(v, kinds[c], money_unit) for c, v in zip(frame.columns, row)] for row in frame.iter_rows()]
    lengths = [max([len(str(c))] + [len(r[i]) for r in texts]) for i, c in enumerate(frame.columns)]
    lengths = [min(max(n, 4), 60) + 2 for n in lengths]
    font_size = 7.5 if len(frame.columns) <= 6 else 6.8
    pdf.set_font(FONT, "", font_size)
    with pdf.table(
        col_widths=tuple(lengths), width=pdf.w - 2 * MARGIN, line_height=font_size * 0.55,
        text_align=tuple("RIGHT" if c in numeric else "LEFT" for c in frame.columns),
        headings_style=FontFace(emphasis="BOLD", fill_color=(222, 230, 238)), first_row_as_headings=True, borders_layout="HORIZONTAL_LINES",
        cell_fill_color=LIGHT, cell_fill_mode="ROWS", padding=1,
    ) as t:
        head = t.row()
        for c in frame.columns:
            head.cell(str(c))
        for r in texts:
            row = t.row()
            for value in r:
                row.cell(value)
    pdf.set_font(FONT, "", font_size)
    if table.note:
        pdf.ln(1)
        _text(pdf, table.note, 7.5, color=GREY)
    pdf.ln(3)


def write_pdf(report: Report, images: dict[str, bytes]) -> bytes:
    """The PDF bytes. ``images``: PNG per figure, keyed ``"<section key>/<figure key>"``."""
    pdf = _Pdf(report.title)
    # ------------------------------------------------------------------ title page
    pdf.add_page()
    pdf.set_y(45)
    _text(pdf, "CRM Lens", 12, bold=True, color=BLUE, gap=2)
    _heading(pdf, f"Executive review — {report.period.label}", 24)
    pdf.ln(6)
    rows = [("Dataset", report.dataset), ("Period", report.period_text)]
    rows += [(f"Filter: {k.lower()}", v) for k, v in report.filters]
    rows += [("Money", report.money_unit), ("Made", f"{report.generated_at:%Y-%m-%d %H:%M}")]
    for label, value in rows:
        pdf.set_font(FONT, "B", 10)
        pdf.cell(38, 6, label)
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(0, 6, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)
    if report.review.highlights:
        _text(pdf, "Highlights", 14, bold=True, color=BLUE, gap=2)
        for h in report.review.highlights:
            pdf.set_font(FONT, "", 10.5)
            pdf.multi_cell(0, 5.5, f"•  {h.text}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            cites = "; ".join(c.source for c in h.cites)
            _text(pdf, f"    Cites: {cites}", 7.5, color=GREY, gap=2)
    pdf.ln(4)
    _text(pdf, "Contents", 12, bold=True, color=BLUE, gap=1)
    for sec in report.sections:
        _text(pdf, f"{sec.title} — {sec.stage}", 9.5, gap=0.5)
    # ------------------------------------------------------------------ one section per page of the walk
    for sec in report.sections:
        pdf.add_page()
        _heading(pdf, sec.title, 18)
        _text(pdf, sec.stage, 10, bold=True, color=BLUE, gap=0.5)
        _text(pdf, sec.question, 9.5, color=GREY, gap=3)
        _numbers(pdf, sec.numbers)
        for note in sec.notes:
            _text(pdf, note, 8.5, color=GREY)
        for fig in sec.figures:
            png = images.get(f"{sec.key}/{fig.key}")
            if png:
                _image(pdf, png, fig.title)
        for table in sec.tables:
            _table(pdf, table, report.money_unit)
    out = pdf.output()
    return bytes(out)
