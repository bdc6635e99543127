"""Webhook bodies -> canonical event lines, with the same SQL money/email/integer rules as CSVs.

Python turns each stored body into a JSON document (ltv_core.webhook_payload, shared with the
sidecar); DuckDB does the rest column-wise. Numbers in the document are their literal text, so
`29`, `"47.00"` and `"$1,234.50"` all go through the one money parser, exactly.

Comma-joined products (`"id": "123,456"`, `"price": "47.00,17.00"`) become several lines: only
when product.id holds commas, and each other product field is split only when it breaks into the
same number of parts, so a single `"1,497.00"` price stays one amount. Every line repeats the
delivery's other fields, so a delivery's lines cost about (lines x body size): a body with more
than MAX_LINES_PER_DELIVERY lines, or whose lines would repeat more than MAX_REPEATED_CHARS of
text, is one reject instead (one 400 KB `product.id` of 200,000 ids once took 21 GB and
OOM-killed every run of its day). Each field is split once per delivery, never once per line.

A type no spelling knows (SamCart's `ProspectCreated`, say) is kept as a line under its raw
type, without the order or subscription id and email the model's types need: the model reads
only the types it knows, and the delivery is there when a spelling for it is added.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from ltv_core.webhook_payload import PayloadError, document_text
from ltv_pipeline.defs.webhooks.event_types import (
    MONEY_EVENT_TYPES,
    ORDER_ID_EVENT_TYPES,
    SUBSCRIPTION_ID_EVENT_TYPES,
)
from ltv_pipeline.lib.sql_parsing import (
    EMAIL_EXPECTED,
    INTEGER_EXPECTED,
    MONEY_EXPECTED,
    clean_text_sql,
    email_sql,
    integer_sql,
    money_sql,
    quote,
    vocabulary_expected,
    vocabulary_sql,
)

EVENT_COLUMNS = [
    "account",
    "delivery_hash",
    "line_index",
    "line_count",
    "received_at",
    "received_day",
    "event_type",
    "raw_type",
    "order_id",
    "product_id",
    "product_name",
    "subscription_id",
    "transaction_id",
    "refund_transaction_id",
    "amount",
    "order_total",
    "quantity",
    "customer_email",
    "customer_first_name",
    "customer_last_name",
    "customer_phone",
    "affiliate",
    "coupon",
]
# Where each field may be found, first match wins (JSON paths into the document).
FIELDS: dict[str, list[str]] = {
    "raw_type": ["$.type", "$.event_type", "$.event", "$.trigger"],
    "order_id": ["$.order.id", "$.order_id"],
    "subscription_id": ["$.order.subscription_id", "$.subscription.id", "$.subscription_id"],
    "refund_transaction_id": ["$.refund_transaction_id", "$.refund.transaction_id"],
    "order_total": ["$.order.total", "$.total"],
    "email": ["$.customer.email", "$.customer_email", "$.email"],
    "customer_first_name": ["$.customer.first_name", "$.first_name"],
    "customer_last_name": ["$.customer.last_name", "$.last_name"],
    "customer_phone": ["$.customer.phone_number", "$.customer.phone"],
    "affiliate": ["$.affiliate.id", "$.affiliate.token", "$.affiliate"],
    "coupon": ["$.order.coupon.code", "$.order.coupon", "$.coupon.code", "$.coupon"],
}
PRODUCT_FIELDS: dict[str, list[str]] = {
    "p_id": ["$.product.id", "$.product_id"],
    "p_name": ["$.product.name", "$.product_name"],
    "p_price": ["$.product.price", "$.price"],
    "p_quantity": ["$.product.quantity", "$.quantity"],
    "p_transaction": ["$.product.transaction_id", "$.transaction_id", "$.order.stripe_id"],
}
DOCS_SCHEMA = pa.schema(
    [
        ("account", pa.string()),
        ("delivery_hash", pa.string()),
        ("received_at", pa.timestamp("us")),
        ("doc", pa.string()),
    ]
)


# SamCart orders carry a handful of products (order bumps, upsells): 1,000 is far beyond real.
MAX_LINES_PER_DELIVERY = 1000
# Lines x body characters: the text a delivery's lines repeat (a 1 MiB body on 16 lines).
MAX_REPEATED_CHARS = 16 * 1024 * 1024
PRODUCT_COLUMNS = list(PRODUCT_FIELDS)


@dataclass(frozen=True)
class Reject:
    account: str
    delivery_hash: str
    received_at: dt.datetime
    line_number: int | None
    column_name: str | None
    value: str | None
    reason: str


def _scalar(path: str) -> str:
    """A scalar at `path` as trimmed text; objects, arrays and nulls give NULL."""
    return clean_text_sql(
        f"CASE WHEN json_type(doc, {quote(path)}) IN ('VARCHAR', 'BOOLEAN') "
        f"THEN json_extract_string(doc, {quote(path)}) END"
    )


def _first(paths: list[str]) -> str:
    return "coalesce(" + ", ".join(_scalar(p) for p in paths) + ")"


def _parts(column: str) -> str:
    """The field's parts when it splits into one per line (see the module docstring), else
    NULL, which unnest pads: every line then takes the whole field. Split once per delivery."""
    splits = "line_count > 1 AND NOT too_many_lines"
    if column == "p_id":  # always one part per line: it is what makes the lines
        return f"CASE WHEN {splits} THEN string_split(p_id, ',') ELSE [p_id] END"
    return (
        f"CASE WHEN {splits} AND len(string_split({column}, ',')) = line_count "
        f"THEN string_split({column}, ',') END"
    )


def _line_value(column: str) -> str:
    """This line's share of a product field: its part when the field was split."""
    part = f"{column}_part"
    return f"CASE WHEN {column}_split THEN {clean_text_sql(part)} ELSE {column} END"


def _in_range(column: str) -> str:
    """Text with at most 16 digits before the point, the most DECIMAL(18,2) holds; a larger
    number would make the shared money cast raise for the whole day instead of one line."""
    whole = f"regexp_replace(split_part({column}, '.', 1), '[^0-9]', '', 'g')"
    return f"CASE WHEN length({whole}) <= 16 THEN {column} END"


def lines_sql(docs: str, day: dt.date, spellings: dict[str, str]) -> str:
    """One row per product line with typed columns and the first reason it cannot be accepted.
    `spellings` are the event types' (event_type_spellings of the home's format catalog)."""
    extracted = ", ".join(
        f"{_first(paths)} AS {name}" for name, paths in {**FIELDS, **PRODUCT_FIELDS}.items()
    )
    money_types = ", ".join(quote(t) for t in MONEY_EVENT_TYPES)
    order_types = ", ".join(quote(t) for t in ORDER_ID_EVENT_TYPES)
    subscription_types = ", ".join(quote(t) for t in SUBSCRIPTION_ID_EVENT_TYPES)
    list_names = ", ".join(f"{column}_parts" for column in PRODUCT_COLUMNS)
    split_lists = ", ".join(f"{_parts(column)} AS {column}_parts" for column in PRODUCT_COLUMNS)
    # Unnested side by side, so line i takes part i of each split field (NULL when unsplit).
    unnested = ", ".join(
        [
            f"line_count > 1 AND NOT too_many_lines AND {column}_parts IS NOT NULL "
            f"AS {column}_split"
            for column in PRODUCT_COLUMNS
        ]
        + [f"unnest({column}_parts) AS {column}_part" for column in PRODUCT_COLUMNS]
        + ["unnest(range(1, len(p_id_parts) + 1)) AS line_index"]
    )
    too_many = (
        f"CASE WHEN line_count > {MAX_LINES_PER_DELIVERY} "
        f"THEN 'product.id: ' || line_count || ' product lines; at most "
        f"{MAX_LINES_PER_DELIVERY} per delivery' "
        "ELSE 'product.id: ' || line_count || ' product lines of a ' || doc_chars || "
        "'-character body would repeat ' || line_count * doc_chars || ' characters; at most "
        f"{MAX_REPEATED_CHARS} per delivery (lines x body size)' END"
    )
    type_expected = vocabulary_expected(spellings).replace(
        "(more spellings can be added in formats.toml)", "or a SamCart trigger name"
    )
    return f"""
    WITH fields AS (
        SELECT account, delivery_hash, received_at, length(doc) AS doc_chars, {extracted}
        FROM {docs}
    ), counted AS (
        SELECT *, coalesce(length(p_id) - length(replace(p_id, ',', '')) + 1, 1) AS line_count
        FROM fields
    ), bounded AS (
        SELECT *,
            line_count > {MAX_LINES_PER_DELIVERY}
                OR line_count * doc_chars > {MAX_REPEATED_CHARS} AS too_many_lines
        FROM counted
    ), split AS (
        SELECT *, {split_lists} FROM bounded
    ), lines AS (
        SELECT * EXCLUDE ({list_names}), {unnested}
        FROM split
    ), texts AS (
        SELECT *, {_line_value("p_id")} AS product_id, {_line_value("p_name")} AS product_name,
            coalesce({_line_value("p_price")}, CASE WHEN line_count = 1 THEN order_total END)
                AS amount_text,
            {_line_value("p_quantity")} AS quantity_text,
            {_line_value("p_transaction")} AS transaction_id,
            {vocabulary_sql("raw_type", spellings)} AS known_type
        FROM lines
    ), typed AS (
        SELECT *,
            coalesce(known_type, raw_type) AS event_type,
            {money_sql(_in_range("amount_text"))} AS amount,
            {money_sql(_in_range("order_total"))} AS order_total_value,
            {integer_sql("quantity_text")} AS quantity,
            {email_sql("email")} AS customer_email
        FROM texts
    )
    SELECT
        account, delivery_hash, CAST(line_index AS INTEGER) AS line_index,
        CAST(line_count AS INTEGER) AS line_count, received_at,
        DATE {quote(day.isoformat())} AS received_day,
        event_type, raw_type, order_id, product_id, product_name, subscription_id,
        transaction_id, refund_transaction_id, amount, order_total_value AS order_total,
        quantity, customer_email, customer_first_name, customer_last_name, customer_phone,
        affiliate, coupon,
        CASE
            WHEN too_many_lines THEN 'product.id'
            WHEN raw_type IS NULL THEN 'type'
            WHEN order_id IS NULL AND event_type IN ({order_types}) THEN 'order.id'
            WHEN subscription_id IS NULL AND event_type IN ({subscription_types})
                THEN 'order.subscription_id'
            WHEN order_id IS NULL AND subscription_id IS NULL AND known_type IS NOT NULL
                THEN 'order.id'
            WHEN email IS NULL AND known_type IS NOT NULL THEN 'customer.email'
            WHEN email IS NOT NULL AND customer_email IS NULL THEN 'customer.email'
            WHEN amount_text IS NOT NULL AND amount IS NULL THEN 'product.price'
            WHEN amount IS NULL AND event_type IN ({money_types}) THEN 'product.price'
            WHEN order_total IS NOT NULL AND order_total_value IS NULL THEN 'order.total'
            WHEN quantity_text IS NOT NULL AND quantity IS NULL THEN 'product.quantity'
        END AS reject_column,
        CASE
            WHEN too_many_lines THEN NULL
            WHEN raw_type IS NULL THEN NULL
            WHEN order_id IS NULL AND event_type IN ({order_types}) THEN NULL
            WHEN subscription_id IS NULL AND event_type IN ({subscription_types}) THEN NULL
            WHEN order_id IS NULL AND subscription_id IS NULL AND known_type IS NOT NULL
                THEN NULL
            WHEN email IS NULL AND known_type IS NOT NULL THEN NULL
            WHEN email IS NOT NULL AND customer_email IS NULL THEN email
            WHEN amount_text IS NOT NULL AND amount IS NULL THEN amount_text
            WHEN amount IS NULL AND event_type IN ({money_types}) THEN NULL
            WHEN order_total IS NOT NULL AND order_total_value IS NULL THEN order_total
            WHEN quantity_text IS NOT NULL AND quantity IS NULL THEN quantity_text
        END AS reject_value,
        CASE
            WHEN too_many_lines THEN {too_many}
            WHEN raw_type IS NULL THEN {quote("type: missing; expected " + type_expected)}
            WHEN order_id IS NULL AND event_type IN ({order_types})
                THEN 'order.id: missing; a ' || event_type || ' event needs the SamCart order id'
            WHEN subscription_id IS NULL AND event_type IN ({subscription_types})
                THEN 'order.subscription_id: missing (nor subscription.id, subscription_id); a '
                    || event_type || ' event needs the SamCart subscription id'
            WHEN order_id IS NULL AND subscription_id IS NULL AND known_type IS NOT NULL
                THEN 'order.id: missing (and no subscription id); expected the SamCart order id'
            WHEN email IS NULL AND known_type IS NOT NULL
                THEN {quote("customer.email: missing; expected " + EMAIL_EXPECTED)}
            WHEN email IS NOT NULL AND customer_email IS NULL
                THEN {quote("customer.email: not an email address; expected " + EMAIL_EXPECTED)}
            WHEN amount_text IS NOT NULL AND amount IS NULL
                THEN {quote("product.price: not an amount; expected " + MONEY_EXPECTED)}
            WHEN amount IS NULL AND event_type IN ({money_types})
                THEN 'product.price: missing; a ' || event_type || ' event needs an amount'
            WHEN order_total IS NOT NULL AND order_total_value IS NULL
                THEN {quote("order.total: not an amount; expected " + MONEY_EXPECTED)}
            WHEN quantity_text IS NOT NULL AND quantity IS NULL
                THEN {quote("product.quantity: not a whole number; expected " + INTEGER_EXPECTED)}
        END AS reject_reason
    FROM typed
    """


def build_documents(deliveries: list[tuple], day: dt.date) -> tuple[pa.Table, list[Reject]]:
    """(account, hash, received_at, content_type, body, outcome, reason) -> documents + rejects.

    Every delivery becomes a document or exactly one reject. Any error reading one body, even
    one the shared parser does not foresee (a RecursionError on a deeply nested form once failed
    every run of its day), is that delivery's reject, never the day's failure.
    """
    columns: dict[str, list] = {name: [] for name in DOCS_SCHEMA.names}
    rejects: list[Reject] = []
    for account, content_hash, received_at, content_type, body, outcome, reason in deliveries:
        if outcome != "accepted":
            rejects.append(
                Reject(
                    account,
                    content_hash,
                    received_at,
                    None,
                    None,
                    None,
                    f"dead letter (answered 400): {reason}",
                )
            )
            continue
        try:
            doc = document_text(bytes(body), content_type)
        except PayloadError as exc:
            rejects.append(Reject(account, content_hash, received_at, None, None, None, str(exc)))
            continue
        except Exception as exc:  # one poison body must not fail its whole day
            reason = f"the body could not be read ({type(exc).__name__}: {str(exc)[:200]})"
            rejects.append(Reject(account, content_hash, received_at, None, None, None, reason))
            continue
        columns["account"].append(account)
        columns["delivery_hash"].append(content_hash)
        columns["received_at"].append(received_at)
        columns["doc"].append(doc)
    return pa.Table.from_pydict(columns, schema=DOCS_SCHEMA), rejects


def parse_lines(
    conn: duckdb.DuckDBPyConnection,
    documents: pa.Table,
    day: dt.date,
    target: str,
    spellings: dict[str, str],
) -> list[Reject]:
    """Create temp table `target`: event columns plus reject_column/value/reason per line.

    The day's documents are parsed in one statement. Should DuckDB fail on it, each document is
    parsed on its own: the ones that fail become rejects (returned) and the others still land.
    When every one of several fails, the fault is not in a delivery, and the error is raised.
    """
    try:
        _insert_lines(conn, documents, day, target, spellings, replace=True)
        return []
    except duckdb.Error as exc:
        day_error = exc
    _insert_lines(conn, documents.slice(0, 0), day, target, spellings, replace=True)
    rejects = []
    for index in range(documents.num_rows):
        document = documents.slice(index, 1)
        try:
            _insert_lines(conn, document, day, target, spellings, replace=False)
        except duckdb.Error as exc:
            row = document.to_pylist()[0]
            reason = f"the body could not be parsed ({type(exc).__name__}: {str(exc)[:200]})"
            rejects.append(
                Reject(
                    row["account"],
                    row["delivery_hash"],
                    row["received_at"],
                    None,
                    None,
                    None,
                    reason,
                )
            )
    if documents.num_rows > 1 and len(rejects) == documents.num_rows:
        raise day_error
    return rejects


def _insert_lines(
    conn: duckdb.DuckDBPyConnection,
    documents: pa.Table,
    day: dt.date,
    target: str,
    spellings: dict[str, str],
    replace: bool,
) -> None:
    conn.register("webhook_documents", documents)
    try:
        select = lines_sql("webhook_documents", day, spellings)
        if replace:
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {target} AS {select}")
        else:
            conn.execute(f"INSERT INTO {target} {select}")
    finally:
        conn.unregister("webhook_documents")
