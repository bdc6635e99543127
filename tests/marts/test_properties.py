"""Promises 3, 4 and 11 on the marts: shuffling the input, delivering twice, splitting one export
into overlapping files, or sending the same sale by webhook and by CSV leaves every mart as it
was. Each example builds real warehouses through the raw assets' code and the model/marts SQL."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.marts.cases import build, write_orders
from tests.marts.strategies import orders, sale_hook

counter = itertools.count()


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
    for row in chosen:
        body, received = sale_hook(row)
        # A retry is the same bytes; a re-sent body may differ in spacing: both count once.
        hooks += [(body, received), (body, received), (body.replace(b", ", b","), received)]
    hooks = data.draw(st.permutations(hooks))
    both = build(ltv_home, [path], hooks, name=f"{folder.name}-two")
    assert both == alone
