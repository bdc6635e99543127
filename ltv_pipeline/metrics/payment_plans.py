"""Payment plans (limited subscriptions): booked, collected, outstanding, and whether each plan
is due, completed or defaulted (docs/metrics.md: Payment plans).

booked = payments x installment; collected = paid installments - refunds (the plan's checkout
line and its installments, from the unified transactions); outstanding = booked - collected.
A plan is due once its last installment date plus a grace period has passed; rates divide by
plans due, so a plan still running never counts as a default.
"""

from __future__ import annotations

import datetime as dt

from ltv_pipeline.metrics.as_of import day_literal
from ltv_pipeline.metrics.definitions import PLAN_GRACE_DAYS, schedule_day_sql


def payment_plans_sql(as_of: dt.date) -> str:
    as_of_sql = day_literal(as_of)
    return f"""
    WITH paid AS (
        SELECT account, subscription_id,
            count(*) FILTER (WHERE amount > 0) AS installments_paid,
            sum(amount) AS collected
        FROM transactions
        WHERE subscription_id IS NOT NULL AND transaction_day <= {as_of_sql}
        GROUP BY account, subscription_id
    ), plans AS (
        SELECT s.account, s.subscription_id, s.customer_key, s.product_id, s.product_name,
            s.status, s.created_date, s.recurring_price AS installment_price,
            coalesce(s.plan_payments, 0) AS plan_payments,
            greatest(coalesce(p.installments_paid, 0), s.payments_made) AS installments_paid,
            coalesce(s.plan_payments, 0) * s.recurring_price AS booked,
            coalesce(p.collected, 0) AS collected,
            {
        schedule_day_sql(
            "s.created_date", "s.frequency", "greatest(coalesce(s.plan_payments, 1) - 1, 0)"
        )
    } AS last_due_day
        FROM subscriptions s LEFT JOIN paid p
          ON s.account = p.account AND s.subscription_id = p.subscription_id
        WHERE s.plan_kind = 'payment_plan' AND s.created_date <= {as_of_sql}
    )
    SELECT *, booked - collected AS outstanding,
        last_due_day + {PLAN_GRACE_DAYS} <= {as_of_sql} AS is_due,
        status = 'completed' OR installments_paid >= plan_payments AS is_completed,
        status IN ('delinquent', 'canceled') AND installments_paid < plan_payments AS is_defaulted,
        {as_of_sql} AS as_of_day
    FROM plans"""


def plan_summary_sql(plans: str, group_by: str | None) -> str:
    """Sums plan rows into the reported figures (rates from summable counts); no group_by
    gives one total row."""
    keys = f"{group_by}, " if group_by else "'(all)' AS product_id, '(all plans)' AS product_name, "
    grouping = f"GROUP BY {group_by} ORDER BY {group_by}" if group_by else ""
    return f"""
    SELECT {keys}count(*) AS plans, count(*) FILTER (WHERE is_due) AS plans_due,
        sum(booked) AS booked, sum(collected) AS collected, sum(outstanding) AS outstanding,
        count(*) FILTER (WHERE is_due AND is_completed) AS completed_due,
        count(*) FILTER (WHERE is_due AND is_defaulted) AS defaulted_due,
        round(count(*) FILTER (WHERE is_due AND is_completed)
              / nullif(count(*) FILTER (WHERE is_due), 0), 4) AS completion_rate,
        round(sum(collected) / nullif(sum(booked), 0), 4) AS capture_rate,
        round(count(*) FILTER (WHERE is_due AND is_defaulted)
              / nullif(count(*) FILTER (WHERE is_due), 0), 4) AS default_rate
    FROM {plans} {grouping}"""
