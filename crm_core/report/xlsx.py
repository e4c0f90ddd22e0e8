"""The report as an Excel workbook (xlsxwriter): a cover sheet (dataset, period, filters, highlights with the
figures they cite, every section's key numbers) and one sheet per table of every section, raw numbers kept
(formatted as money, percentages or counts, not as text)."""

from __future__ import annotations

import io
import math
import re

import polars as pl
import xlsxwriter

from crm_core.report.sections import Report
from crm_core.safe_export import neutralize_value

_FORMATS = {"money": "#,##0", "share": "0.0%", "count": "#,##0", "number": "#,##0.00", "ratio": "0.000",
            "date": "yyyy-mm-dd"}


def _sheet_name(text: str, used: set[str]) -> str:
    base = re.sub(r"[\\/*?:\[\]]", " ", text).strip()[:31] or "data"
    name, i = base, 2
    while name.lower() in used:
        suffix = f" ({i})"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(name.lower())
    return name


_SIGNED_FIGURE = re.compile(r"^[+-]\d[\d.,]*\s?(%|pp)?$")  # "+12.3%", "-1.2 pp": our own figures, not formulas


def _text(value):
    """Text as written (as text, never as a formula: strings_to_formulas is off): neutralized against formula
    injection, except the signed figures the report itself formats (a change such as "-12.3%")."""
    if isinstance(value, str) and _SIGNED_FIGURE.match(value):
        return value
    return neutralize_value(value)


def write_xlsx(report: Report) -> bytes:
    """The .xlsx bytes. Text comes from users' exports (dataset and customer names, headers…): every string is
    written as text, never as a formula, and neutralized (``crm_core.safe_export``) like every other download."""
    buffer = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    with xlsxwriter.Workbook(buffer, options) as wb:
        bold = wb.add_format({"bold": True})
        title = wb.add_format({"bold": True, "font_size": 16, "font_color": "#0072B2"})
        used: set[str] = set()
        cover = wb.add_worksheet(_sheet_name("Report", used))
        cover.set_column(0, 0, 34)
        cover.set_column(1, 1, 110)
        cover.write(0, 0, _text(report.title), title)
        rows = [("Dataset", report.dataset), ("Period", report.period_text)]
        rows += [(f"Filter: {k.lower()}", v) for k, v in report.filters]
        rows += [("Money", report.money_unit), ("Made", f"{report.generated_at:%Y-%m-%d %H:%M}")]
        r = 2
        for k, v in rows:
            cover.write(r, 0, k, bold)
            cover.write(r, 1, _text(v))
            r += 1
        r += 1
        cover.write(r, 0, "Highlights", title)
        r += 1
        for h in report.review.highlights:
            cover.write(r, 0, _text(h.metric_id))
            cover.write(r, 1, _text(h.text))
            r += 1
            for c in h.cites:
                cover.write(r, 0, _text(f"  cites: {c.source}"))
                cover.write(r, 1, _text(f"{c.what} = {c.value}"))
                r += 1
        for sec in report.sections:
            r += 1
            cover.write(r, 0, f"{sec.title} — {sec.stage}", title)
            r += 1
            for label, value in sec.numbers:
                cover.write(r, 0, _text(label), bold)
                cover.write(r, 1, _text(value))
                r += 1
            for note in sec.notes:
                cover.write(r, 1, _text(note))
                r += 1
        for sec in report.sections:
            for table in sec.tables:
                ws = wb.add_worksheet(_sheet_name(table.title, used))
                frame = table.frame.with_columns(
                    pl.col(c).cast(pl.String) for c, t in table.frame.schema.items()
                    if isinstance(t, (pl.Enum, pl.Categorical)))
                ws.write(0, 0, _text(f"{sec.title}: {table.title}"), bold)
                if table.note:
                    ws.write(1, 0, _text(table.note))
                start = 3
                for j, col in enumerate(frame.columns):
                    ws.write(start, j, _text(col), bold)
                    kind = table.kind(col)
                    fmt = wb.add_format({"num_format": _FORMATS[kind]}) if kind in _FORMATS else None
                    width = max([len(str(col))] + [len(str(v)) for v in frame[col].head(200).to_list()])
                    ws.set_column(j, j, min(max(width + 2, 8), 60), fmt)
                for i, row in enumerate(frame.iter_rows(), start=start + 1):
                    for j, value in enumerate(row):
                        if value is None or (isinstance(value, float) and math.isnan(value)):
                            continue
                        if hasattr(value, "strftime"):
                            ws.write_datetime(i, j, value, wb.add_format({"num_format": "yyyy-mm-dd"}))
                        elif isinstance(value, bool):
                            ws.write_boolean(i, j, value)
                        elif isinstance(value, (int, float)):
                            ws.write_number(i, j, value)
                        else:
                            ws.write_string(i, j, neutralize_value(str(value)))
                ws.freeze_panes(start + 1, 0)
    return buffer.getvalue()

