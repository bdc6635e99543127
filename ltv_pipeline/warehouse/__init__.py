"""The DuckDB warehouse: opening it (connection), the tables and views it holds (schema,
landed, webhook_tables, views), and bringing an older one up to date (schema_version,
migrations)."""
