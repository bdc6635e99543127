"""Every constant a metric definition depends on, named once (see docs/metrics.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ltv_core.settings import CUSTOMER_KEY_RULES

# Customer key: the email, trimmed and case-folded (the raw assets store it so). Gmail folding
# (dots and +tags of the local part dropped, googlemail.com read as gmail.com) only when chosen,
# since two real people can own addresses that fold together.
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def customer_key_sql(email: str, rule: str) -> str:
    """The customer key of an email column under a rule of CUSTOMER_KEY_RULES."""
    if rule == "email":
        return email
    if rule != "gmail-folded":
        raise ValueError(
            f"unknown customer key rule {rule!r}: expected one of {CUSTOMER_KEY_RULES}"
        )
    domains = ", ".join(f"'{d}'" for d in GMAIL_DOMAINS)
    folded = f"replace(split_part(split_part({email}, '@', 1), '+', 1), '.', '')"
    return (
        f"CASE WHEN split_part({email}, '@', 2) IN ({domains}) AND {folded} <> '' "
        f"THEN {folded} || '@gmail.com' ELSE {email} END"
    )


def order_rank_sql(alias: str = "") -> str:
    """A customer's orders in order: earliest order time, then lowest order id (numerically when
    it is a number). Decides the first order and the order numbers of time between purchases;
    A list of sort keys; `alias` qualifies the columns (e.g. "o." for `o.moment`)."""
    return f"{alias}moment, try_cast({alias}order_id AS BIGINT), {alias}order_id"


# Standard horizons: (label, days after the first purchase day); None is all time.
HORIZONS: tuple[tuple[str, int | None], ...] = (
    ("d0", 0),
    ("d7", 7),
    ("d30", 30),
    ("d60", 60),
    ("d90", 90),
    ("d180", 180),
    ("d365", 365),
    ("all", None),
)
# Pooled groups (customers acquired over a long span: a front-end product, all customers): a
# day-N cell averages over the members at least N days old, and is empty below this many.
POOLED_MIN_ELIGIBLE = 30
# Repeat purchases happen on days 1..N, so day 0 has none by definition.
REPEAT_HORIZONS = tuple(h for h in HORIZONS if h[1] != 0)

PERIODS = ("month", "week", "day")
DEFAULT_PERIOD = "month"
BASES = ("net", "gross")
DEFAULT_BASIS = "net"
# Cohorts start at the first successful order of any amount ($0 included) by default.
COHORT_STARTS = ("first_order", "first_paid_order")
DEFAULT_COHORT_START = "first_order"

# Order status ranks: state only moves forward (charged < partially refunded < refunded).
# Rank 0 is not a successful charge (declined, pending, test). An empty status is a charge.
ORDER_STATE_RANK = {
    "declined": 0,
    "pending": 0,
    "test": 0,
    "charged": 1,
    "partially_refunded": 2,
    "refunded": 3,
    "reversed": 3,  # a chargeback takes the money back in full, like a refund
}
DECLINED_STATUSES = ("declined",)

# A billing frequency as a calendar step (unit, count); unknown frequencies rebuild as monthly
# and are flagged.
FREQUENCY_STEPS: dict[str, tuple[str, int]] = {
    "daily": ("day", 1),
    "weekly": ("day", 7),
    "biweekly": ("day", 14),
    "monthly": ("month", 1),
    "quarterly": ("month", 3),
    "semiannually": ("month", 6),
    "yearly": ("month", 12),
}
ASSUMED_FREQUENCY = "monthly"
# Approximate days per period, for "within half a period" when matching webhook charges.
FREQUENCY_DAYS = {
    "daily": 1,
    "weekly": 7,
    "biweekly": 14,
    "monthly": 30,
    "quarterly": 91,
    "semiannually": 182,
    "yearly": 365,
}
# Monthly-normalised price factor for MRR (yearly / 12, weekly x 52/12, ...).
MRR_FACTORS = {
    "daily": "365.0 / 12",
    "weekly": "52.0 / 12",
    "biweekly": "26.0 / 12",
    "monthly": "1.0",
    "quarterly": "1.0 / 3",
    "semiannually": "1.0 / 6",
    "yearly": "1.0 / 12",
}

# Subscription statuses (canonical spellings from samcart_formats.toml).
ACTIVE_STATUSES = ("active",)
# Webhook events that tell a subscription's status, and the status each means.
WEBHOOK_STATUS_EVENTS = {
    "Cancel": "canceled",
    "RecurringPaymentFailed": "delinquent",
    "RecurringPaymentRecovered": "active",
    "SubscriptionRestarted": "active",
    "SubscriptionRecovered": "active",
    "RecurringPaymentSucceeded": "active",
}

# Payment plans: a plan is "due" once its last installment date plus this grace has passed.
PLAN_GRACE_DAYS = 7
# Subscriber churn window, and how long a delinquent subscription counts as still active.
CHURN_WINDOW_DAYS = 30
DELINQUENT_GRACE_DAYS = 30


@dataclass(frozen=True)
class MetricOptions:
    """The choices every report labels: cohort period, cohort start, and the as-of day."""

    period: str = DEFAULT_PERIOD
    cohort_start: str = DEFAULT_COHORT_START
    as_of: dt.date | None = None  # None: the latest day covered by the data

    def __post_init__(self) -> None:
        if self.period not in PERIODS:
            raise ValueError(f"period {self.period!r}: expected one of {', '.join(PERIODS)}")
        if self.cohort_start not in COHORT_STARTS:
            raise ValueError(
                f"cohort start {self.cohort_start!r}: expected one of {', '.join(COHORT_STARTS)}"
            )


def sql_case(column: str, mapping: dict[str, str], default: str = "NULL") -> str:
    """A SQL CASE over a canonical value; mapping values are SQL expressions."""
    branches = " ".join(f"WHEN '{key}' THEN {value}" for key, value in mapping.items())
    return f"CASE {column} {branches} ELSE {default} END"


def order_state_sql(status: str) -> str:
    """An order status as its forward-only rank (empty status: a charge)."""
    ranks = {k: str(v) for k, v in ORDER_STATE_RANK.items()}
    return sql_case(f"coalesce({status}, 'charged')", ranks, default="1")


def schedule_day_sql(start: str, frequency: str, number: str) -> str:
    """The day of charge `number` (0 = the first) of a schedule starting on `start`."""
    steps = {
        name: (
            f"CAST({start} + to_days(CAST({count} * {number} AS INTEGER)) AS DATE)"
            if unit == "day"
            else f"CAST({start} + to_months(CAST({count} * {number} AS INTEGER)) AS DATE)"
        )
        for name, (unit, count) in FREQUENCY_STEPS.items()
    }
    return sql_case(f"coalesce({frequency}, '{ASSUMED_FREQUENCY}')", steps)


def cohort_label_sql(period: str, day: str) -> str:
    """The cohort a first-purchase day falls in: YYYY-MM, ISO week YYYY-Www, or YYYY-MM-DD."""
    pattern = {"month": "%Y-%m", "week": "%G-W%V", "day": "%Y-%m-%d"}[period]
    return f"strftime({day}, '{pattern}')"
