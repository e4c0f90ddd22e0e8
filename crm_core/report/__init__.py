"""Executive reports (issue #6): the review headline and the pages of the walk as one report, written as PDF,
self-contained HTML, PowerPoint and Excel. Engine only — no Streamlit.

``sections.build_report`` computes the content once; ``html``, ``pdf``, ``pptx`` and ``xlsx`` write it.
"""

from __future__ import annotations


class ReportError(Exception):
    """A report cannot be made; the message says why and what to do, fit to show to the user."""
