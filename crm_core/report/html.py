"""The report as one self-contained HTML file: interactive plotly charts with plotly.js embedded once (no CDN,
opens offline), the key numbers, tables and highlights of every section. Needs no browser to make."""

from __future__ import annotations

import html
from datetime import datetime

import plotly.io as pio

from crm_core.report.sections import Report, ReportTable, cell_text

CHART_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png", "scale": 2}}

_CSS = """
body { font-family: "DejaVu Sans", system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2430;
       background: #fafbfc; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
header.title { border-bottom: 3px solid #0072B2; padding-bottom: 12px; margin-bottom: 24px; }
h1 { font-size: 28px; margin: 0 0 6px; } h2 { font-size: 22px; margin: 0 0 4px; }
h3 { font-size: 16px; margin: 24px 0 8px; }
.stage { color: #0072B2; font-weight: 600; margin: 0 0 4px; } .question { color: #555; margin: 0 0 16px; }
section { background: #fff; border: 1px solid #e3e6ea; border-radius: 8px; padding: 20px 24px; margin: 0 0 28px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
.numbers { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; margin: 8px 0 16px; }
.number { border: 1px solid #e3e6ea; border-radius: 6px; padding: 10px 12px; }
.number .label { font-size: 12px; color: #555; } .number .value { font-size: 20px; font-weight: 600; }
ul.highlights li { margin: 0 0 8px; } ul.highlights .cites { display: block; font-size: 12px; color: #666; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 5px 8px; text-align: left; }
th { background: #f1f4f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { font-size: 12px; color: #666; margin: 2px 0 12px; }
.chart { margin: 8px 0 16px; }
footer { font-size: 12px; color: #666; text-align: center; }
"""


def _e(text) -> str:
    return html.escape(str(text))


def table_html(table: ReportTable, money_unit: str = "") -> str:
    frame = table.frame
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    kinds = {c: table.kind(c) for c in frame.columns}
    body = []
    for row in frame.iter_rows():
        cells = []
        for c, v in zip(frame.columns, row):
            numeric = kinds[c] in {"money", "share", "count", "number", "ratio"}
            cells.append(f'<td class="num">{_e(cell_text(v, kinds[c], money_unit))}</td>' if numeric
                         else f"<td>{_e(cell_text(v, kinds[c], money_unit))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    return (f"<h3>{_e(table.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            + note)


def write_html(report: Report) -> bytes:
    """The report as UTF-8 HTML bytes; every chart interactive, plotly.js embedded once."""
    first = True
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body><main>",
        '<header class="title">', f"<h1>{_e(report.title)}</h1>", '<dl class="meta">',
        f"<dt>Dataset</dt><dd>{_e(report.dataset)}</dd>",
        f"<dt>Period</dt><dd>{_e(report.period_text)}</dd>",
        "<dt>Filters</dt><dd>" + "; ".join(f"{_e(k)}: {_e(v)}" for k, v in report.filters) + "</dd>",
        f"<dt>Money</dt><dd>{_e(report.money_unit)}</dd>",
        f"<dt>Made</dt><dd>{report.generated_at:%Y-%m-%d %H:%M} by CRM Lens</dd>",
        "</dl></header>",
    ]
    if report.review.highlights:
        parts.append('<section id="highlights"><h2>Highlights</h2><ul class="highlights">')
        for h in report.review.highlights:
            cites = "; ".join(f"{c.what}: {c.source}" for c in h.cites)
            parts.append(f'<li data-metric="{_e(h.metric_id)}">{_e(h.text)}<span class="cites">Cites {_e(cites)}</span></li>')
        parts.append("</ul></section>")
    for sec in report.sections:
        parts.append(f'<section id="{_e(sec.key)}"><h2>{_e(sec.title)}</h2>')
        parts.append(f'<p class="stage">{_e(sec.stage)}</p><p class="question">{_e(sec.question)}</p>')
        if sec.numbers:
            parts.append('<div class="numbers">' + "".join(
                f'<div class="number"><div class="label">{_e(k)}</div><div class="value">{_e(v)}</div></div>'
                for k, v in sec.numbers) + "</div>")
        for note in sec.notes:
            parts.append(f'<p class="note">{_e(note)}</p>')
        for fig in sec.figures:
            div = pio.to_html(fig.figure, full_html=False, include_plotlyjs=first, config=CHART_CONFIG,
                              div_id=f"fig-{sec.key}-{fig.key}", default_width="100%")
            first = False
            parts.append(f'<div class="chart">{div}</div>')
        for table in sec.tables:
            parts.append(table_html(table, report.money_unit))
        parts.append("</section>")
    parts.append(f"<footer>Made by CRM Lens on {datetime.now():%Y-%m-%d}. Every number can be reproduced with "
                 "<code>python -m crm_core report</code>.</footer></main></body></html>")
    return "\n".join(parts).encode("utf-8")
