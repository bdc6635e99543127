"""Promises 3, 4 and 11 on the marts: shuffling the input, delivering twice, splitting one export
into overlapping files, or sending the same sale by webhook and by CSV leaves every mart as it
was. Each example builds real warehouses through the raw assets' code and the model/marts SQL."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.marts.cases import build, order_row, webhook, write_orders

EMAILS = ["ada@x.io", "grace@y.io", "alan@z.io", "kay@w.io"]
STATUSES = ["Charged"] * 6 + ["Refunded", "Partially Refunded", "Declined"]
counter = itertools.count()


@st.composite
def orders(draw) -> list[list[str]]:
    """Orders with distinct products and prices within each order (the identity of a line is
    its product's n-th occurrence, and ties in price would make the front-end line depend on
    row order, which no export promises)."""
    rows = []
    for order_id in range(1, draw(st.integers(2, 9)) + 1):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=draw(st.integers(0, 200)))
        email = draw(st.sampled_from(EMAILS))
        spelled = draw(st.sampled_from([email, email.upper(), f" {email.title()} "]))
        status = draw(st.sampled_from(STATUSES))
        products = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3, unique=True))
        prices = draw(st.lists(st.integers(0, 300), min_size=3, max_size=3, unique=True))
        for product, price in zip(products, prices, strict=False):
            rows.append(
                order_row(
                    1000 + order_id, day.strftime("%m/%d/%Y"), product, price, spelled, status
                )
            )
    return rows


def _fresh(tmp_path, name: str):
    folder = tmp_path / f"{name}-{next(counter)}"
    folder.mkdir()
    return folder


SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(rows=orders(), data=st.data())
def test_shuffled_and_overlapping_exports_give_the_same_marts(ltv_home, tmp_path, rows, data):
    folder = _fresh(tmp_path, "split")
    one = build(ltv_home, [write_orders(folder / "all.csv", rows)], name=f"{folder.name}-one")
    shuffled = data.draw(st.permutations(rows))
    cut = data.draw(st.integers(1, len(rows)))
    overlap = data.draw(st.integers(0, cut))
    parts = [shuffled[:cut], shuffled[cut - overlap :]]
    files = [write_orders(folder / f"part{i}.csv", p) for i, p in enumerate(parts) if p]
    files = data.draw(st.permutations(files))
    split = build(ltv_home, [*files, files[0]], name=f"{folder.name}-two")  # one re-upload too
    assert split == one


@SETTINGS
@given(rows=orders(), data=st.data())
def test_the_same_sale_by_webhook_and_csv_delivered_twice_changes_nothing(
    ltv_home, tmp_path, rows, data
):
    folder = _fresh(tmp_path, "hooks")
    path = write_orders(folder / "all.csv", rows)
    alone = build(ltv_home, [path], name=f"{folder.name}-one")
    charged = [r for r in rows if r[3] == "Charged"]
    chosen = data.draw(st.lists(st.sampled_from(charged), unique_by=tuple)) if charged else []
    hooks = []
    for order_id, day, time, _status, product, _name, price, email in chosen:
        received = dt.datetime.strptime(f"{day} {time}", "%m/%d/%Y %H:%M:%S")
        body = webhook(
            "Order", int(order_id), int(product), price.lstrip("$").replace(",", ""), email.upper()
        )
        # A retry is the same bytes; a re-sent body may differ in spacing: both count once.
        hooks += [(body, received), (body, received), (body.replace(b", ", b","), received)]
    hooks = data.draw(st.permutations(hooks))
    both = build(ltv_home, [path], hooks, name=f"{folder.name}-two")
    assert both == alone
