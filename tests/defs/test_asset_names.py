"""Asset and group names read well in Dagster's asset graph, which shortens a label in its
middle: to 31 characters in a node at full size, to 18 when the graph is zoomed out. No two
assets may then look alike (the two subscription assets once both read `raw…_subscriptions`)."""

from __future__ import annotations

import re

from ltv_pipeline.definitions import defs

FULL_NODE = 31  # dagster-webserver 1.13: the asset node's name length before it is shortened
ZOOMED_OUT = 18  # the minimal node's


def shortened(name: str, max_length: int) -> str:
    """The label the asset graph shows (dagster-webserver's middle truncation, re-stated): the
    cut falls on a separator near the middle when one is far enough from the start."""
    over = len(name) - max_length
    if over <= 0:
        return name
    if max_length <= 10:
        return name[: max_length - 1] + "…"
    separators = [m.start() for m in re.finditer("__" if "__" in name else r"[_>.\-]", name)]
    cut = (len(name) + over) // 2
    first_far = next((i for i, at in enumerate(separators) if at > over + 3), None)
    if first_far is not None:
        index = max(first_far, len(separators) // 2)
        if index < len(separators):
            cut = separators[index]
    return name[: cut - (over + 1)] + "…" + name[cut:]


def test_the_shortening_is_dagsters():
    assert shortened("raw_samcart_recurring_subscriptions", ZOOMED_OUT) == "raw…_subscriptions"
    assert shortened("raw_samcart_limited_subscriptions", ZOOMED_OUT) == "raw…_subscriptions"
    assert shortened("raw_samcart_orders", ZOOMED_OUT) == "raw_samcart_orders"


def _labels() -> list[str]:
    graph = defs.resolve_asset_graph()
    return [key.path[-1] for key in graph.get_all_asset_keys()]


def test_every_asset_name_is_shown_whole_in_a_full_size_node():
    assert [name for name in _labels() if len(name) > FULL_NODE] == []


def test_no_two_assets_look_alike_when_the_graph_is_zoomed_out():
    labels = _labels()
    shown = [shortened(name, ZOOMED_OUT) for name in labels]
    alike = sorted(
        name for name, label in zip(labels, shown, strict=True) if shown.count(label) > 1
    )
    assert alike == []


def test_group_names_are_shown_whole():
    groups = {node.group_name for node in defs.resolve_asset_graph().asset_nodes}
    assert [group for group in groups if len(group) > ZOOMED_OUT] == []
