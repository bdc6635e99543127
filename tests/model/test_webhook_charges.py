"""A webhook charge is one event per (subscription id, transaction id); its amount is the sum
of its delivery's lines, and a retried delivery of the same charge counts once."""

import datetime as dt
import json
from decimal import Decimal

from tests.marts.cases import warehouse
from tests.model.loading import load_webhooks, rebuild


def charge_body(**extra) -> bytes:
    return json.dumps(
        {
            "type": "RecurringPaymentSucceeded",
            "customer": {"email": "ada@x.io"},
            "order": {"id": 900, "total": "39.00", "subscription_id": 7001},
            "product": {
                "id": "55502,55503",
                "name": "Main,Add-on",
                "price": "29.00,10.00",
                "transaction_id": "ch_1",
            },
            **extra,
        }
    ).encode()


def test_a_multi_line_charge_is_its_lines_summed_once_per_transaction_id(ltv_home):
    first = dt.datetime(2024, 4, 16, 9, tzinfo=dt.UTC)
    retry = first + dt.timedelta(minutes=5)
    with warehouse(ltv_home) as conn:
        load_webhooks(conn, [(charge_body(), first), (charge_body(retry=1), retry)])
        assert conn.execute(
            "SELECT count(*), count(DISTINCT delivery_hash) FROM raw_samcart_webhook_events"
        ).fetchall() == [(4, 2)]
        rebuild(conn)
        assert conn.execute(
            "SELECT transaction_id, amount, source_rows FROM transactions"
        ).fetchall() == [("charge|7001|ch_1", Decimal("39.00"), 4)]
