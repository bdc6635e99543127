"""Which email makes a customer, installed once per rebuild as the SQL macro `customer_key_of`.

Every model query that reads an email calls the macro, so the rule chosen in the settings
(LTV_CUSTOMER_KEY, ltv_pipeline.metrics.definitions) is applied the same way everywhere
without threading it through each query builder.
"""

import duckdb

from ltv_pipeline.metrics.definitions import customer_key_sql
from ltv_pipeline.settings import get_settings


def use_customer_key_rule(conn: duckdb.DuckDBPyConnection, rule: str | None = None) -> str:
    """Install the macro for `rule` (default: the settings' rule); returns the rule used."""
    rule = rule or get_settings().customer_key_rule
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO customer_key_of(email) AS {customer_key_sql('email', rule)}"
    )
    return rule
