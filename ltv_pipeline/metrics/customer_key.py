"""Which email makes a customer, installed once per rebuild as the SQL macro `customer_key_of`.

Every model query that reads an email calls the macro, so the rule chosen in the settings
(LTV_CUSTOMER_KEY, ltv_pipeline.metrics.definitions) is applied the same way everywhere
without threading it through each query builder.
"""

import duckdb

from ltv_core.settings import DEFAULT_CUSTOMER_KEY_RULE
from ltv_pipeline.metrics.definitions import customer_key_sql


def use_customer_key_rule(conn: duckdb.DuckDBPyConnection, rule: str) -> str:
    """Install the macro for the settings' rule (LTV_CUSTOMER_KEY); returns the rule used."""
    conn.execute(
        f"CREATE OR REPLACE TEMP MACRO customer_key_of(email) AS {customer_key_sql('email', rule)}"
    )
    return rule


def built_customer_key_rules(conn: duckdb.DuckDBPyConnection) -> set[str]:
    """The rule(s) the stored customers were built with; empty before the first build."""
    tables = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "customers" not in tables:
        return set()
    columns = {d[0] for d in conn.execute("SELECT * FROM customers LIMIT 0").description}
    if "customer_key_rule" not in columns:
        return {DEFAULT_CUSTOMER_KEY_RULE}  # built before the option existed
    return {
        r[0] for r in conn.execute("SELECT DISTINCT customer_key_rule FROM customers").fetchall()
    }
