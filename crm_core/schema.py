"""Canonical tables of CRM Lens (DESIGN.md §4), described as data.

Every import maps a vendor export onto one of these tables. Each column has a
*kind* that decides how raw values are parsed (see ``crm_core.ingest.parse``)
and which DuckDB type stores it. Every stored row also carries ``dataset_id``
and ``batch_id``; those are added by the store, not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# kind -> DuckDB column type
KIND_SQL_TYPE: dict[str, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "money": "DOUBLE",
    "number": "DOUBLE",
    "integer": "INTEGER",
    "status": "VARCHAR",
}

TRANSACTION_STATUSES = ("completed", "refunded", "cancelled")
DEAL_STATUSES = ("open", "won", "lost")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool = False
    label: str = ""
    # For kind "integer"/"number": inclusive bounds a value must respect.
    bounds: tuple[float, float] | None = None

    @property
    def sql_type(self) -> str:
        return KIND_SQL_TYPE[self.kind]


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    columns: tuple[Column, ...]
    key: str | None = None  # unique within a dataset
    key_generated: bool = False  # generated when the export has none
    # at least one of these columns must be mapped (e.g. nps or csat)
    one_of: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers",
            "Customers",
            (
                Column("customer_id", "id", True, "Customer ID"),
                Column("name", "text", label="Name"),
                Column("email", "text", label="Email"),
                Column("phone", "text", label="Phone"),
                Column("company", "text", label="Company"),
                Column("country", "text", label="Country"),
                Column("region", "text", label="Region"),
                Column("industry", "text", label="Industry"),
                Column("segment", "text", label="Segment"),
                Column("acquisition_channel", "text", label="Acquisition channel"),
                Column("owner", "text", label="Owner"),
                Column("created_at", "timestamp", label="Created at"),
            ),
            key="customer_id",
        ),
        Table(
            "transactions",
            "Transactions",
            (
                Column("transaction_id", "id", label="Transaction ID"),
                Column("customer_id", "id", True, "Customer ID"),
                Column("occurred_at", "timestamp", True, "Date"),
                Column("amount", "money", True, "Amount (net revenue)"),
                Column("cost", "money", label="Cost (COGS)"),
                Column("quantity", "number", label="Quantity"),
                Column("discount", "money", label="Discount"),
                Column("product", "text", label="Product"),
                Column("category", "text", label="Category"),
                Column("channel", "text", label="Channel"),
                Column("status", "status", label="Status"),
            ),
            key="transaction_id",
            key_generated=True,
        ),
        Table(
            "interactions",
            "Interactions",
            (
                Column("interaction_id", "id", label="Interaction ID"),
                Column("customer_id", "id", True, "Customer ID"),
                Column("occurred_at", "timestamp", True, "Date"),
                Column("kind", "text", True, "Kind (call, email, meeting…)"),
                Column("channel", "text", label="Channel"),
                Column("owner", "text", label="Owner"),
                Column("duration_minutes", "number", label="Duration (minutes)", bounds=(0, 100000)),
                Column("cost", "money", label="Cost"),
                Column("outcome", "text", label="Outcome"),
            ),
            key="interaction_id",
            key_generated=True,
        ),
        Table(
            "feedback",
            "Feedback",
            (
                Column("customer_id", "id", True, "Customer ID"),
                Column("responded_at", "timestamp", True, "Responded at"),
                Column("nps", "integer", label="NPS score (0–10)", bounds=(0, 10)),
                Column("csat", "integer", label="CSAT score (1–5)", bounds=(1, 5)),
                Column("comment", "text", label="Comment"),
            ),
            one_of=("nps", "csat"),
        ),
        Table(
            "deals",
            "Deals",
            (
                Column("deal_id", "id", label="Deal ID"),
                Column("customer_id", "id", True, "Account / customer"),
                Column("owner", "text", label="Owner"),
                Column("created_at", "timestamp", label="Created at"),
                Column("closed_at", "timestamp", label="Closed at"),
                Column("stage", "text", label="Stage"),
                Column("status", "status", label="Status (open / won / lost)"),
                Column("amount", "money", label="Amount"),
                Column("source", "text", label="Source"),
            ),
            key="deal_id",
            key_generated=True,
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def create_table_sql(table: Table) -> str:
    """DDL for a canonical table (identifiers quoted)."""
    cols = ['"dataset_id" INTEGER NOT NULL', '"batch_id" INTEGER NOT NULL']
    cols += [f'"{c.name}" {c.sql_type}' for c in table.columns]
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" ({", ".join(cols)})'
