"""Streamlit glue of CRM Lens: session keys and filters (``state``), the cached store and reads
(``data``), shared widgets (``widgets``). ``crm_core`` never imports this package."""
