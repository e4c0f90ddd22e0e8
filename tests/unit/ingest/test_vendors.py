"""crm_core.ingest.vendors and mapping: table and system detection, column mapping, line items."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from crm_core import schema
from crm_core.ingest import vendors
from crm_core.ingest.mapping import apply_saved, header_signature, validate_mapping
from crm_core.ingest.readers import read_path
from crm_core.ingest.vendors import candidate_tables, detect, group_line_items, has_vendor_prefix, normalize_header

FIXTURES = Path(__file__).parents[2] / "fixtures" / "vendors"
EXPECTED = yaml.safe_load((FIXTURES / "EXPECTED.yaml").read_text(encoding="utf-8"))


def fixture_tables():
    """(id, RawTable, expected facts) for every fixture file and sheet."""
    for name, facts in EXPECTED.items():
        for raw in read_path(FIXTURES / name):
            expected = facts["sheets"][raw.sheet] if raw.sheet else facts
            yield pytest.param(raw, expected, id=raw.source)


FIXTURE_TABLES = list(fixture_tables())


# ---------------------------------------------------------------------------- fixtures
@pytest.mark.parametrize("raw, expected", FIXTURE_TABLES)
def test_fixture_detected_with_no_user_help(raw, expected):
    d = detect(raw.frame.columns)
    assert (d.table, d.system) == (expected["table"], expected["system"])
    assert {c: d.mapping.get(c) for c in expected["mapping"]} == expected["mapping"]
    assert d.missing_required == []
    assert d.derived == expected.get("derived", {})
    assert d.currency_column == expected.get("currency_column")
    assert d.line_items == expected.get("line_items", False)
    assert d.unmapped == [h for h in raw.frame.columns if h not in d.mapping.values()]
    assert candidate_tables(raw.frame.columns)[0][0] == d.table
    assert 0.6 <= d.confidence <= 1


@pytest.mark.parametrize("raw, expected", FIXTURE_TABLES)
def test_fixture_rows_and_distinct_customers(raw, expected):
    d = detect(raw.frame.columns)
    frame = group_line_items(raw.frame, d) if d.line_items else raw.frame
    assert raw.frame.height == expected["rows_read"]
    assert frame.height == expected["rows"]
    assert frame[d.mapping["customer_id"]].n_unique() == expected["customers"]


PLAIN_AMOUNTS = ["shopify_orders.csv", "hubspot_deals.csv", "salesforce_opportunities_api.csv", "pipedrive_deals.csv"]


@pytest.mark.parametrize("name", PLAIN_AMOUNTS)
def test_plain_decimal_amounts_sum_to_expected(name):
    """Files whose amounts are plain decimals; the others need crm_core.ingest.parse."""
    raw = read_path(FIXTURES / name)[0]
    d = detect(raw.frame.columns)
    frame = group_line_items(raw.frame, d) if d.line_items else raw.frame
    total = frame[d.mapping["amount"]].cast(pl.Float64).sum()
    assert total == pytest.approx(EXPECTED[name]["amount_sum"])


# ---------------------------------------------------------------------------- header lists from real exports
SALESFORCE_ACCOUNTS = (
    "Account Name|Account ID|Billing Country|Industry|Phone|Email|Account Owner|Created Date".split("|")
)
ZOHO_ACCOUNTS = (
    "Record Id|Account Name|Account Owner|Account Owner.id|Phone|Website|Industry|Billing Country"
    "|Created Time|Account Type"
).split("|")
ZOHO_CONTACTS = (
    "Record Id|First Name|Last Name|Email|Phone|Account Name|Account Name.id|Contact Owner"
    "|Contact Owner.id|Created Time|Mailing Country|Lead Source"
).split("|")


@pytest.mark.parametrize(
    "headers, table, system, expected",
    [
        (
            SALESFORCE_ACCOUNTS,
            "customers",
            "salesforce",
            {"customer_id": "Account ID", "name": "Account Name", "country": "Billing Country", "industry": "Industry",
             "phone": "Phone", "email": "Email", "owner": "Account Owner", "created_at": "Created Date"},
        ),
        (
            ZOHO_ACCOUNTS,
            "customers",
            "zoho",
            {"customer_id": "Record Id", "name": "Account Name", "owner": "Account Owner", "industry": "Industry",
             "country": "Billing Country", "created_at": "Created Time", "segment": "Account Type"},
        ),
        (
            ZOHO_CONTACTS,
            "customers",
            "zoho",
            {"customer_id": "Record Id", "email": "Email", "phone": "Phone", "company": "Account Name",
             "owner": "Contact Owner", "country": "Mailing Country", "acquisition_channel": "Lead Source"},
        ),
        (
            ["Opportunity Name", "Account Name", "Account ID", "Stage", "Close Date", "Amount"],
            "deals",
            "salesforce",
            {"customer_id": "Account ID", "stage": "Stage"},  # the id wins over the name when both exist
        ),
        (
            ["DEAL_ID", "ACCOUNTID", "STAGENAME", "CLOSEDATE", "AMOUNT"],  # Data Loader: upper case
            "deals",
            "salesforce",
            {"deal_id": "DEAL_ID", "customer_id": "ACCOUNTID", "stage": "STAGENAME", "closed_at": "CLOSEDATE"},
        ),
    ],
)
def test_real_header_lists(headers, table, system, expected):
    d = detect(headers)
    assert (d.table, d.system) == (table, system)
    assert {c: d.mapping.get(c) for c in expected} == expected


# prefix, then labels for: title, value, currency, status, won time, organization, owner
PIPEDRIVE_LOCALIZED = {
    "en": ("Deal - ", "Title|Value|Currency|Status|Won time|Organization|Owner"),
    "en dash": ("Deal – ", "Title|Value|Currency|Status|Won time|Organization|Owner"),
    "de": ("Deal - ", "Titel|Wert|Währung|Status|Zeitpunkt gewonnen|Organisation|Besitzer"),
    "es": ("Negocio - ", "Título|Valor|Moneda|Estado|Fecha de ganado|Organización|Propietario"),
    "fr": ("Affaire - ", "Titre|Valeur|Devise|Statut|Date de gain|Organisation|Propriétaire"),
    "pt": ("Negócio - ", "Título|Valor|Moeda|Status|Data de ganho|Organização|Proprietário"),
}


@pytest.mark.parametrize("language", PIPEDRIVE_LOCALIZED)
def test_pipedrive_localized_labels(language):
    prefix, labels = PIPEDRIVE_LOCALIZED[language]
    headers = [prefix + label for label in labels.split("|")]
    d = detect(headers)
    assert (d.table, d.system) == ("deals", "pipedrive")
    title, value, currency, status, won, organization, owner = headers
    expected = {"customer_id": organization, "owner": owner, "closed_at": won, "status": status, "amount": value}
    assert d.mapping == expected
    assert d.currency_column == currency
    assert d.unmapped == [title, currency]


def test_pipedrive_prefixes_disambiguate_ids():
    d = detect(["Person - ID", "Deal - ID", "Organization - ID", "Deal - Organization", "Deal - Value", "Deal - Stage"])
    assert d.mapping["deal_id"] == "Deal - ID"
    assert d.mapping["customer_id"] == "Organization - ID"


def test_shopify_headers_and_line_items():
    d = detect(read_path(FIXTURES / "shopify_orders.csv")[0].frame.columns)
    assert d.mapping["transaction_id"] == "Name"  # "#1001"; the numeric "Id" is internal
    assert "Id" in d.unmapped
    assert d.line_items and d.derived == {"status": "shopify"}


@pytest.mark.parametrize(
    "headers, table, expected",
    [
        (["Customer", "Invoice date", "Revenue"], "transactions",
         {"customer_id": "Customer", "occurred_at": "Invoice date", "amount": "Revenue"}),
        (["Client Name", "Date", "Net Sales", "Qty", "SKU", "COGS", "Category", "Sales Channel", "Status"],
         "transactions",
         {"customer_id": "Client Name", "occurred_at": "Date", "amount": "Net Sales", "quantity": "Qty",
          "product": "SKU", "cost": "COGS", "category": "Category", "channel": "Sales Channel", "status": "Status"}),
        (["Order Number", "Customer Email", "Order Date", "Total", "Units", "Item"], "transactions",
         {"transaction_id": "Order Number", "customer_id": "Customer Email", "occurred_at": "Order Date",
          "amount": "Total", "quantity": "Units", "product": "Item"}),
        (["Account ID", "Invoice Number", "Invoice Date", "Amount", "Cost"], "transactions",
         {"customer_id": "Account ID", "transaction_id": "Invoice Number", "amount": "Amount", "cost": "Cost"}),
        (["Customer ID", "Date", "Activity Type", "Duration (min)", "Outcome", "Subject", "Agent"], "interactions",
         {"customer_id": "Customer ID", "occurred_at": "Date", "kind": "Activity Type",
          "duration_minutes": "Duration (min)", "outcome": "Outcome", "owner": "Agent"}),
        (["Customer ID", "Type", "Minutes", "Date"], "interactions",
         {"kind": "Type", "duration_minutes": "Minutes"}),
        (["Email", "Submitted at", "How likely are you to recommend us to a friend or colleague?", "Comment"],
         "feedback",
         {"customer_id": "Email", "responded_at": "Submitted at",
          "nps": "How likely are you to recommend us to a friend or colleague?", "comment": "Comment"}),
        (["Customer ID", "Response Date", "CSAT", "Verbatim"], "feedback",
         {"responded_at": "Response Date", "csat": "CSAT", "comment": "Verbatim"}),
        (["Customer ID", "Date", "Rating"], "feedback", {"csat": "Rating"}),
        (["Customer ID", "Name", "Email", "Phone", "Company", "Country", "Region", "Industry", "Segment",
          "Acquisition Channel", "Account Manager", "Signup Date"], "customers",
         {"customer_id": "Customer ID", "name": "Name", "email": "Email", "phone": "Phone", "company": "Company",
          "country": "Country", "region": "Region", "industry": "Industry", "segment": "Segment",
          "acquisition_channel": "Acquisition Channel", "owner": "Account Manager", "created_at": "Signup Date"}),
        (["Name", "Email", "Phone", "Company"], "customers", {"customer_id": "Email", "name": "Name"}),
        (["Deal ID", "Account", "Owner", "Created", "Close Date", "Stage", "Amount"], "deals",
         {"deal_id": "Deal ID", "customer_id": "Account", "stage": "Stage", "closed_at": "Close Date"}),
    ],
)
def test_generic_spreadsheets(headers, table, expected):
    d = detect(headers)
    assert (d.table, d.system) == (table, "generic")
    assert {c: d.mapping.get(c) for c in expected} == expected


@pytest.mark.parametrize("table", schema.TABLE_NAMES)
def test_canonical_names_map_to_themselves(table):
    names = schema.TABLES[table].column_names
    d = detect(names)
    assert d.table == table
    assert d.mapping == {c: c for c in names}
    assert d.unmapped == []


def test_derived_status_rules():
    assert detect(["Account", "Stage", "Amount"]).derived == {"status": "from_stage"}
    assert detect(["Account", "Stage", "Status", "Amount"]).derived == {}  # a status column wins
    d = detect(["Id", "AccountId", "StageName", "IsWon", "IsClosed", "Amount"])
    assert d.derived == {"status": "salesforce_iswon"}
    assert "status" not in d.mapping


def test_forced_table_and_candidates():
    headers = ["Customer ID", "Order Date", "Total"]
    ranked = candidate_tables(headers)
    assert [t for t, _ in ranked][0] == "transactions"
    assert sorted(t for t, _ in ranked) == sorted(schema.TABLE_NAMES)
    assert all(0 <= score <= 1 for _, score in ranked)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    forced = detect(headers, table="customers")
    assert forced.table == "customers" and forced.mapping == {"customer_id": "Customer ID"}
    with pytest.raises(ValueError):
        detect(headers, table="orders")


def test_nothing_recognizable_gives_zero_confidence():
    d = detect(["foo", "bar"])
    assert d.confidence == 0
    assert d.mapping == {}
    assert d.missing_required == schema.TABLES[d.table].required


# ---------------------------------------------------------------------------- normalization
@pytest.mark.parametrize(
    "header, key",
    [
        ("Close Date", "closedate"),
        ("close_date", "closedate"),
        ("CloseDate", "closedate"),
        ("CLOSEDATE", "closedate"),
        ("  Close   Date *", "closedate"),
        ("*Amount", "amount"),
        ("Währung", "wahrung"),
        ("Organización", "organizacion"),
        ("Probability (%)", "probability"),
        ("Country/Region", "countryregion"),
        ("Account Name.id", "accountnameid"),
        ("Deal – Wert", "dealwert"),
        ("Straße", "strasse"),
    ],
)
def test_normalize_header(header, key):
    assert normalize_header(header) == key


@pytest.mark.parametrize(
    "header, key",
    [
        ("Deal - Value", "value"),
        ("Deal – Wert", "wert"),
        ("deal—Status", "status"),
        ("Organization - Name", "name"),
        ("Person – Email", "email"),
        ("Negócio - Valor", "valor"),
        ("Deal Stage", "dealstage"),  # no dash: not a prefix
        ("Dealer - Name", "dealername"),
    ],
)
def test_normalize_header_strips_vendor_prefix(header, key):
    assert normalize_header(header, strip_prefix=True) == key
    assert has_vendor_prefix(header) == (key != normalize_header(header))


# ---------------------------------------------------------------------------- saved mappings
def test_header_signature_stable_under_order_case_and_spacing():
    a = header_signature(["Customer ID", "Order Date", "Total"])
    assert a == header_signature(["total", "ORDER_DATE", " customer id "])
    assert a != header_signature(["Customer ID", "Order Date", "Total", "Product"])
    assert header_signature(["Deal - ID"]) != header_signature(["ID"])
    assert len(a) == 40 and int(a, 16) >= 0


def test_apply_saved_overrides_detection_and_matches_headers_by_key():
    headers = ["Kunde", "Datum", "Betrag", "Status"]
    guess = detect(headers)
    saved = {"table": "transactions", "system": "generic",
             "mapping": {"customer_id": "kunde", "occurred_at": "DATUM", "amount": "Betrag", "cost": "Gone",
                         "bogus": "Status"}}
    d = apply_saved(guess, saved)
    assert d.table == "transactions" and d.confidence == 1.0
    assert d.mapping == {"customer_id": "Kunde", "occurred_at": "Datum", "amount": "Betrag"}
    assert sorted(d.unmapped) == ["Status"]
    assert d.missing_required == []


def test_apply_saved_can_change_table_and_recomputes_derivations():
    guess = detect(["Account", "Stage", "Amount", "Opened"])
    assert guess.derived == {"status": "from_stage"}
    saved = {"table": "deals", "system": "generic", "mapping": {"customer_id": "Account", "status": "Stage"}}
    d = apply_saved(guess, saved)
    assert d.derived == {}
    assert set(d.unmapped) == {"Amount", "Opened"}
    other = apply_saved(guess, {"table": "transactions", "system": "generic", "mapping": {"customer_id": "Account"}})
    assert other.table == "transactions" and other.missing_required == ["occurred_at", "amount"]


def test_apply_saved_without_saved_mapping_or_with_unknown_table():
    guess = detect(["Customer ID", "Order Date", "Total"])
    assert apply_saved(guess, None) is guess
    assert apply_saved(guess, {"table": "orders", "mapping": {}}) is guess


def test_validate_mapping_messages():
    headers = ["Customer", "Date", "Amount"]
    good = {"customer_id": "Customer", "occurred_at": "Date", "amount": "Amount"}
    assert validate_mapping("transactions", good, headers) == []
    messages = validate_mapping(
        "transactions",
        {"customer_id": "Customer", "occurred_at": "When", "amount": "Customer", "profit": "Amount", "cost": ""},
        headers,
    )
    assert messages == [
        "'profit' is not a column of the transactions table.",
        "'When' is not a column of this file (mapped to occurred_at).",
        "'Customer' is mapped to more than one column (customer_id, amount).",
    ]
    assert validate_mapping("feedback", {}, headers) == [
        "Required column Customer ID (customer_id) is not mapped.",
        "Required column Responded at (responded_at) is not mapped.",
    ]


# ---------------------------------------------------------------------------- line items
def test_group_line_items_on_shopify_fixture():
    raw = read_path(FIXTURES / "shopify_orders.csv")[0]
    expected = EXPECTED["shopify_orders.csv"]
    d = detect(raw.frame.columns)
    orders = group_line_items(raw.frame, d)
    assert orders.height == expected["rows"]
    assert orders.columns == [*raw.frame.columns, vendors.SOURCE_ROW, vendors.LINE_ITEMS]
    assert orders[vendors.LINE_ITEMS].sum() == expected["rows_read"]
    assert orders["Name"].to_list() == [f"#{n}" for n in range(1001, 1013)]  # order of first appearance
    assert orders[vendors.SOURCE_ROW].to_list() == [0, 2, 3, 6, 7, 9, 10, 12, 13, 15, 16, 19]
    first = orders.row(0, named=True)
    assert {k: first[k] for k in expected["first_order"]} == expected["first_order"]
    assert orders["Lineitem quantity"].cast(pl.Int64).sum() == expected["quantity_sum"]
    assert orders["Total"].cast(pl.Float64).sum() == pytest.approx(expected["total_sum"])
    cancelled = orders.filter(pl.col("Cancelled at").is_not_null())["Name"].to_list()
    assert cancelled == ["#1004"]  # order-level columns come from each order's first row


def test_group_line_items_edge_cases():
    frame = pl.DataFrame(
        {
            "Order": ["A", "A", None, "B", None, "A"],
            "Qty": ["1", "x", "2", None, "1", "2.5"],
            "Item": ["pen", "pen", "ink", None, "cap", "pad"],
            "Total": ["9.00", None, "3.00", "4.00", "1.00", None],
        }
    )
    d = vendors.make_detection(
        "transactions", "generic", {"transaction_id": "Order", "quantity": "Qty", "product": "Item"}, frame.columns, 1.0
    )
    out = group_line_items(frame, d)
    assert out["Order"].to_list() == ["A", None, "B", None]  # rows without an order id stay rows
    assert out["Qty"].to_list() == ["3.5", "2", None, "1"]  # "x" is not a number; none at all gives null
    assert out["Item"].to_list() == ["pen; pad", "ink", None, "cap"]
    assert out["Total"].to_list() == ["9.00", "3.00", "4.00", "1.00"]
    assert out[vendors.SOURCE_ROW].to_list() == [0, 2, 3, 4]
    unkeyed = group_line_items(frame, vendors.make_detection("transactions", "generic", {}, frame.columns, 0.0))
    assert unkeyed[vendors.SOURCE_ROW].to_list() == list(range(6))


# ---------------------------------------------------------------------------- the rules file itself
def _synonym_lists(rules):
    yield rules["prefixes"]
    yield rules["currency"]
    for table in rules["tables"].values():
        yield table.get("hints", [])
        yield from table["columns"].values()
    for vendor in rules["vendors"].values():
        yield vendor["fingerprint"].get("headers", [])
        for table in vendor.get("tables", {}).values():
            yield from table.get("columns", {}).values()
    for columns in rules["derived"].values():
        for rule_list in columns.values():
            for rule in rule_list:
                yield rule.get("headers", [])


def test_every_synonym_is_text():
    """YAML reads unquoted yes/no/on/off as booleans and 1.0 as a number; none may slip in."""
    for values in _synonym_lists(vendors.RULES):
        for v in values:
            texts = [v] if not isinstance(v, dict) else [v["header"], *v["unless"]]
            assert all(isinstance(t, str) and t.strip() for t in texts), values


def test_conditional_synonym():
    assert detect(SALESFORCE_ACCOUNTS).mapping["name"] == "Account Name"
    contacts = detect(["Contact ID", "First Name", "Last Name", "Account Name", "Email"])
    assert contacts.mapping["company"] == "Account Name" and "name" not in contacts.mapping


def test_rules_name_only_canonical_tables_and_columns():
    rules = vendors.RULES
    assert set(rules["tables"]) == set(schema.TABLE_NAMES) == set(rules["table_order"])
    for name, table in rules["tables"].items():
        columns = set(schema.TABLES[name].column_names)
        assert set(table["columns"]) <= columns
        assert set(table.get("weights", {})) <= columns
    for vendor in rules["vendors"].values():
        for name, table in vendor.get("tables", {}).items():
            assert set(table.get("columns", {})) <= set(schema.TABLES[name].column_names)
    for name, derived in rules["derived"].items():
        assert set(derived) <= set(schema.TABLES[name].column_names)
    assert set(vendors.SYSTEMS) == {"salesforce", "hubspot", "shopify", "pipedrive", "zoho", "generic"}
