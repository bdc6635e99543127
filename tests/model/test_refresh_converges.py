"""Principle 5 for incremental maintenance (issue 14): however the same inputs arrive (exports in
any order, overlapping exports, later exports that mark lines refunded, re-imports of a file,
webhook deliveries before or after the export of the same sale, refunds of exported lines,
subscription exports and their charges by webhook, retried deliveries), a refresh after each
arrival ends in the tables one full rebuild of all the inputs gives in a fresh warehouse: every
model table and every mart, row for row.

A refresh is what a model step and a marts step do (build_model, then build_marts), on one real
warehouse file that keeps everything earlier refreshes left in it; the inputs go in through the
raw assets' own code (tests/model/loading.py)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from ltv_core.settings import Settings
from tests.marts.cases import warehouse, write_orders
from tests.marts.strategies import (
    Hook,
    orders,
    overlapping_parts,
    refund_hooks,
    sale_hook,
    subscriptions,
    webhook_sales,
    write_subscriptions,
)
from tests.model.loading import load_csv, load_webhooks, rebuild
from tests.warehouse_tables import assert_same_tables

counter = itertools.count()


@dataclass(frozen=True)
class Export:
    name: str
    kind: str  # "orders" or "subscriptions"
    rows: list[list[str]] = field(hash=False)

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        if not path.exists():
            writer = write_orders if self.kind == "orders" else write_subscriptions
            writer(path, self.rows)
        return path

    def __str__(self) -> str:
        return f"{self.name} ({len(self.rows)} rows)"


@dataclass(frozen=True)
class Deliveries:
    hooks: list[Hook]

    def __str__(self) -> str:
        first, last = self.hooks[0][1], self.hooks[-1][1]
        return f"{len(self.hooks)} webhook deliveries received {first} .. {last}"


Arrival = Export | Deliveries


@st.composite
def arrivals(draw) -> list[Arrival]:
    """One set of inputs, in one order of arrival. Deliveries arrive in the order they were
    received (the sidecar stamps them); exports, which carry old sales, arrive at any point."""
    rows = draw(orders())
    plan_rows, checkouts, charges = draw(subscriptions())
    sold = rows + checkouts
    parts = overlapping_parts(draw, draw(st.permutations(sold)), most=2)
    exports = [Export(f"orders-{i}.csv", "orders", part) for i, part in enumerate(parts)]
    charged = [r for r in rows if r[3] == "Charged"]
    refunded_later = draw(st.lists(st.sampled_from(charged), unique_by=tuple)) if charged else []
    if refunded_later:  # a later export shows lines an earlier one had as charged refunded
        refunded = [[*r[:3], "Refunded", *r[4:]] for r in refunded_later]
        exports.append(Export("orders-refunded.csv", "orders", refunded))
    for i, part in enumerate(overlapping_parts(draw, plan_rows, most=2)):
        exports.append(Export(f"subscriptions-{i}.csv", "subscriptions", part))
    exports = draw(st.permutations(exports))
    if exports and draw(st.booleans()):  # a file imported again (a re-parse of its partition)
        exports.insert(draw(st.integers(1, len(exports))), draw(st.sampled_from(exports)))

    reported = [r for r in sold if r[3] != "Declined"]
    by_hook = draw(st.lists(st.sampled_from(reported), unique_by=tuple)) if reported else []
    hooks = [sale_hook(r) for r in by_hook]
    hooks += draw(refund_hooks(rows)) + draw(webhook_sales()) + charges
    retried = draw(st.lists(st.sampled_from(hooks), unique_by=lambda h: h[0])) if hooks else []
    hooks += [(body, at + dt.timedelta(minutes=5)) for body, at in retried]  # the same bytes
    hooks.sort(key=lambda hook: hook[1])
    batches = [Deliveries(part) for part in overlapping_parts(draw, hooks, most=2, overlap=False)]

    # Interleave: exports anywhere, deliveries in the order they were received.
    order = draw(st.permutations([0] * len(exports) + [1] * len(batches)))
    sources = [iter(exports), iter(batches)]
    return [next(sources[which]) for which in order]


def _fresh(tmp_path: Path) -> Path:
    folder = tmp_path / f"arrivals-{next(counter)}"
    folder.mkdir()
    return folder


def _arrive(conn, settings: Settings, folder: Path, arrival: Arrival) -> None:
    if isinstance(arrival, Export):
        load_csv(conn, settings, arrival.write(folder))
    else:
        load_webhooks(conn, arrival.hooks)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=arrivals())
def test_a_refresh_after_each_arrival_ends_where_one_full_rebuild_does(ltv_home, tmp_path, steps):
    folder = _fresh(tmp_path)
    for n, arrival in enumerate(steps, 1):
        note(f"arrival {n}: {arrival}")
        for row in arrival.rows if isinstance(arrival, Export) else arrival.hooks:
            note(f"    {row}")
    with warehouse(ltv_home, f"{folder.name}-refreshed") as conn:
        for arrival in steps:
            _arrive(conn, ltv_home, folder, arrival)
            rebuild(conn)

    with warehouse(ltv_home, f"{folder.name}-rebuilt") as conn:
        for export in dict.fromkeys(s for s in steps if isinstance(s, Export)):
            _arrive(conn, ltv_home, folder, export)
        hooks = [hook for s in steps if isinstance(s, Deliveries) for hook in s.hooks]
        if hooks:
            load_webhooks(conn, hooks)
        rebuild(conn)

    assert_same_tables(
        ltv_home.home / f"{folder.name}-refreshed.duckdb",
        ltv_home.home / f"{folder.name}-rebuilt.duckdb",
        names=("refreshed after each arrival", "full rebuild"),
    )
