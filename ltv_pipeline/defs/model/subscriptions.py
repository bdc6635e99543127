"""`subscriptions`: one row per (account, subscription id), recurring or payment plan.

Overlapping exports may hold the same subscription several times in different states; the row
kept is a payment plan's over a recurring one, then the furthest along (most charges, then the
later status; chosen_export_rows_sql), so the result does not depend
on which file arrived first. Webhook status events (cancel, failed, recovered, ...) add a dated
history; the latest of them is the current status, else the export's.
"""

import duckdb

from ltv_core.formats.profiles import load_catalog
from ltv_pipeline.defs.model.large_tables import for_large_rebuilds
from ltv_pipeline.metrics.customer_key import use_customer_key_rule
from ltv_pipeline.metrics.definitions import (
    ASSUMED_FREQUENCY,
    FREQUENCY_DAYS,
    WEBHOOK_STATUS_EVENTS,
    sql_case,
)

# The export formats subscriptions come from, by the plan kind their rows are.
RECURRING_FORMAT = "samcart-recurring-subscriptions"
PAYMENT_PLAN_FORMAT = "samcart-limited-subscriptions"


def subscription_raw_assets() -> list[str]:
    """The raw assets (and warehouse views) of the two subscription exports."""
    catalog = load_catalog()
    return [catalog.profile(RECURRING_FORMAT).asset, catalog.profile(PAYMENT_PLAN_FORMAT).asset]


# Later in a subscription's life wins when two export rows disagree with equal charges.
EXPORT_STATUS_RANK = {
    "pending": "0",
    "active": "1",
    "paused": "2",
    "delinquent": "3",
    "canceled": "4",
    "completed": "5",
}


def _export_rows(table: str, plan_kind: str, plan_columns: str) -> str:
    return f"""
    SELECT '{plan_kind}' AS plan_kind, account, subscription_id, order_id, customer_id,
        customer_key_of(customer_email) AS customer_key, customer_first_name, customer_last_name,
        product_id, product_name, status, created_date, next_rebill_date, canceled_date,
        recurring_price, frequency, charges_made, failed_charges, total_collected,
        {plan_columns}, file_hash, line_number
    FROM {table}"""


def chosen_export_rows_sql() -> str:
    """One export row per (account, subscription id): a payment-plan row over a recurring one,
    then the furthest along (most charges, then the later status). The one definition of the
    row kept, shared by the model and its reconciliation check."""
    recurring_asset, plans_asset = subscription_raw_assets()
    recurring = _export_rows(
        recurring_asset,
        "recurring",
        "CAST(NULL AS INTEGER) AS plan_payments, CAST(NULL AS DATE) AS end_date",
    )
    plans = _export_rows(plans_asset, "payment_plan", "plan_payments, end_date")
    return f"""
    SELECT *, count(*) OVER (PARTITION BY account, subscription_id) AS export_rows
    FROM ({recurring} UNION ALL {plans})
    QUALIFY row_number() OVER (
        PARTITION BY account, subscription_id
        ORDER BY plan_kind = 'payment_plan' DESC, coalesce(charges_made, 0) DESC,
            {sql_case("status", EXPORT_STATUS_RANK, "-1")} DESC, file_hash, line_number
    ) = 1"""


def subscriptions_sql() -> str:
    webhook_statuses = ", ".join(f"'{t}'" for t in WEBHOOK_STATUS_EVENTS)
    return f"""
    WITH chosen AS ({chosen_export_rows_sql()}
    ), hook_events AS (
        SELECT account, subscription_id, received_day AS day, received_at AS moment,
            {sql_case("event_type", {k: f"'{v}'" for k, v in WEBHOOK_STATUS_EVENTS.items()})}
                AS status,
            event_type, customer_key_of(customer_email) AS customer_key, product_id,
            product_name, amount
        FROM raw_samcart_webhook_events
        WHERE subscription_id IS NOT NULL AND event_type IN ({webhook_statuses})
    ), hook_summary AS (
        SELECT account, subscription_id,
            list({{'day': day, 'status': status, 'source': 'webhook ' || event_type}}
                 ORDER BY moment, event_type) AS history,
            arg_max(status, (moment, status)) AS latest_status,
            max(day) FILTER (WHERE status = 'canceled') AS canceled_day,
            max(day) FILTER (WHERE status = 'delinquent') AS delinquent_day,
            max(day) FILTER (WHERE status = 'active') AS last_active_day,
            min(customer_key) AS customer_key, min(product_id) AS product_id,
            min(product_name) AS product_name,
            arg_max(amount, moment) FILTER (WHERE event_type = 'RecurringPaymentSucceeded')
                AS last_charge_amount,
            min(day) AS first_day
        FROM hook_events GROUP BY account, subscription_id
    )
    SELECT
        coalesce(c.account, h.account) AS account,
        coalesce(c.subscription_id, h.subscription_id) AS subscription_id,
        coalesce(c.plan_kind, 'unknown') AS plan_kind,
        coalesce(c.customer_key, h.customer_key) AS customer_key,
        c.customer_id,
        c.customer_first_name, c.customer_last_name,
        coalesce(c.product_id, h.product_id) AS product_id,
        coalesce(c.product_name, h.product_name) AS product_name,
        coalesce(h.latest_status, c.status) AS status,
        c.status AS export_status,
        coalesce(c.created_date, h.first_day) AS created_date,
        c.next_rebill_date,
        coalesce(c.canceled_date, h.canceled_day) AS canceled_date,
        h.delinquent_day AS delinquent_since,
        coalesce(c.recurring_price, h.last_charge_amount) AS recurring_price,
        coalesce(c.frequency, CASE WHEN c.subscription_id IS NOT NULL
                                   THEN '{ASSUMED_FREQUENCY}' END) AS frequency,
        c.frequency IS NULL AND c.subscription_id IS NOT NULL AS frequency_assumed,
        {
        sql_case(
            f"coalesce(c.frequency, '{ASSUMED_FREQUENCY}')",
            {k: str(v) for k, v in FREQUENCY_DAYS.items()},
            "30",
        )
    } AS period_days,
        coalesce(c.charges_made, 0) AS payments_made,
        c.plan_payments,
        c.end_date,
        c.failed_charges,
        c.total_collected,
        c.order_id AS first_order_id,
        c.subscription_id IS NOT NULL AS from_export,
        coalesce(c.export_rows, 0) AS export_rows,
        list_concat(
            CASE WHEN c.subscription_id IS NOT NULL
                 THEN [{{'day': c.canceled_date, 'status': c.status, 'source': 'export'}}]
                 ELSE [] END,
            coalesce(h.history, [])
        ) AS status_history
    FROM chosen c
    FULL OUTER JOIN hook_summary h
        ON c.account = h.account AND c.subscription_id = h.subscription_id
    """


def build_subscriptions(conn: duckdb.DuckDBPyConnection, rule: str) -> int:
    for_large_rebuilds(conn)
    use_customer_key_rule(conn, rule)
    conn.execute(f"CREATE OR REPLACE TABLE subscriptions AS {subscriptions_sql()}")
    return conn.execute("SELECT count(*) FROM subscriptions").fetchall()[0][0]
