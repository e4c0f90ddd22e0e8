"""CRM frameworks: the QCI and Gartner assessment rubrics (YAML), their scoring, the evidence the data gives for
each area or block, stored assessments, and the six CRM models the dashboard walks (DESIGN §1, §3 ``frameworks/``).

Everything here is pure Python over the store; Streamlit glue lives in ``ui/frameworks.py``.
"""
