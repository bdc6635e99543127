"""The pages a seller uses: upload SamCart exports, read the LTV report, copy the webhook URL.

Served on their own listener (127.0.0.1 by default), apart from the webhook sidecar, which is
the only listener a user may expose to the internet.
"""
