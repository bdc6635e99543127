"""Issue 16's properties: the fitted BG/NBD and Gamma-Gamma models are a function of the sales,
not of how they reached the warehouse. Importing the same export again, splitting the history
across several (overlapping) exports and webhook deliveries, and spelling the emails in other
cases with spaces around them all give the customer summaries and the `ltv predict` object of
one plain import, to the last bit.

The history is every third customer of the CDNOW sample (809 customers, 313 of them repeat
customers in the papers' calibration period: enough for a reliable fit), fitted as the papers
do, in weeks up to 1997-09-30. The inputs go in through the raw assets' own code and the model
is rebuilt as a refresh does (tests/model/loading.py). A sale seen only by webhook is dated on
receipt, so each delivery is received at noon on its order's day.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from ltv_core.settings import Settings
from ltv_pipeline.metrics.predictive.prediction import predict
from ltv_pipeline.metrics.predictive.summaries import summaries_sql
from tests.marts.cases import order_row, warehouse, webhook, write_orders
from tests.marts.strategies import Hook
from tests.model.loading import load_csv, load_webhooks, rebuild
from tests.predictive.cdnow import CALIBRATION_END, CdnowPurchase, cdnow_purchases

counter = itertools.count()
Fitted = tuple[list[tuple], dict]  # the customer summaries and `ltv predict`'s object
# No shrinking: each example builds a warehouse of 2,256 sales, and the assertion's message
# already names the customers whose summaries differ.
PROPERTY = settings(
    max_examples=4,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@functools.cache
def sample() -> tuple[CdnowPurchase, ...]:
    return tuple(p for p in cdnow_purchases() if int(p.customer) % 3 == 0)


def email(purchase: CdnowPurchase) -> str:
    return f"Customer{purchase.customer}@CDNOW.example"


def export_row(n: int, spelled: str | None = None) -> list[str]:
    """Sale n of the sample as an Orders export line (one order, one line per purchase)."""
    p = sample()[n]
    return order_row(1000 + n, p.day.strftime("%m/%d/%Y"), p.cds, p.dollars, spelled or email(p))


def sale_hook(n: int, spelled: str | None = None) -> Hook:
    """The Order webhook of sale n, received at noon on its day (its day as the model sees it)."""
    p = sample()[n]
    body = webhook("Order", 1000 + n, p.cds, f"{p.dollars:.2f}", spelled or email(p))
    return body, dt.datetime.combine(p.day, dt.time(12))


def fitted(conn) -> Fitted:
    summaries = conn.execute(
        f'SELECT customer_key, first_day, x, t_x, "T", m_x '
        f"FROM ({summaries_sql(None, CALIBRATION_END, 'week')})"
    ).fetchall()
    return summaries, predict(conn, None, CALIBRATION_END, "week")


def arrive(settings: Settings, arrivals: list[list[list[str]] | list[Hook]], refresh: bool):
    """Exports (lists of rows) and delivery batches in the given order; with `refresh` the model
    is rebuilt after each arrival (as the automation does), else once at the end."""
    folder = settings.home / f"arrivals-{next(counter)}"
    folder.mkdir()
    with warehouse(settings, folder.name) as conn:
        for n, arrival in enumerate(arrivals):
            if arrival and isinstance(arrival[0], tuple):
                load_webhooks(conn, arrival)
            else:
                load_csv(conn, settings, write_orders(folder / f"orders-{n}.csv", arrival))
            if refresh:
                rebuild(conn)
        if not refresh:
            rebuild(conn)
        return fitted(conn)


def assert_same(got: Fitted, one_import: Fitted) -> None:
    summaries, prediction = got
    expected_summaries, expected_prediction = one_import
    different = [(a, b) for a, b in zip(summaries, expected_summaries, strict=False) if a != b]
    assert len(summaries) == len(expected_summaries) and not different, (
        f"{len(summaries)} customers (one import: {len(expected_summaries)}); first "
        f"differences (got, one import): {different[:3]}"
    )
    assert prediction == expected_prediction


@pytest.fixture(scope="module")
def one_import(tmp_path_factory) -> Fitted:
    home = tmp_path_factory.mktemp("one_import")
    settings = Settings.from_env({"LTV_HOME": str(home)})
    settings.ensure_layout()
    result = arrive(settings, [[export_row(n) for n in range(len(sample()))]], refresh=True)
    prediction = result[1]
    # The history is big enough for the fit to mean something (and for the property to bite).
    assert prediction["customers"] == 809
    assert prediction["bgnbd"]["reliable"] and prediction["gamma_gamma"]["reliable"]
    assert prediction["gamma_gamma"]["customers"] >= 100
    return result


@PROPERTY
@given(imports=st.integers(2, 3), refresh=st.booleans())
def test_importing_the_same_export_again_changes_nothing(ltv_home, one_import, imports, refresh):
    rows = [export_row(n) for n in range(len(sample()))]
    assert_same(arrive(ltv_home, [rows] * imports, refresh), one_import)


class Split(list):
    """Arrivals whose repr says what they are, not every line of them."""

    def __repr__(self) -> str:
        kinds = ["deliveries" if a and isinstance(a[0], tuple) else "export" for a in self]
        return ", ".join(f"{k} of {len(a)}" for k, a in zip(kinds, self, strict=True))


@st.composite
def split_history(draw) -> tuple[Split, bool]:
    """The sample cut across 1-3 exports (a sale may also be in a second, overlapping export)
    and the webhook deliveries of the sales of some days (only by webhook, or by webhook and an
    export), delivered in 1-2 batches in the order they were received; exports arrive anywhere
    among the deliveries."""
    rng = draw(st.randoms(use_true_random=False))
    days = sorted({p.day for p in sample()})
    hooked_days = set(draw(st.lists(st.sampled_from(days), max_size=20, unique=True)))
    also_exported = draw(st.sampled_from([0.0, 0.5, 1.0]))
    exports: list[list[list[str]]] = [[] for _ in range(draw(st.integers(1, 3)))]
    overlap = draw(st.sampled_from([0.0, 0.2]))
    hooks: list[Hook] = []
    for n, purchase in enumerate(sample()):
        by_hook = purchase.day in hooked_days
        if by_hook:
            hooks.append(sale_hook(n))
        if not by_hook or rng.random() < also_exported:
            first = rng.randrange(len(exports))
            exports[first].append(export_row(n))
            if len(exports) > 1 and rng.random() < overlap:
                exports[(first + 1) % len(exports)].append(export_row(n))
    hooks.sort(key=lambda hook: hook[1])
    cut = rng.randrange(len(hooks) + 1)
    batches = [b for b in (hooks[:cut], hooks[cut:]) if b]
    exports = [rows for rows in exports if rows]
    order = draw(st.permutations([0] * len(exports) + [1] * len(batches)))
    sources = [iter(exports), iter(batches)]
    return Split(next(sources[which]) for which in order), draw(st.booleans())


@PROPERTY
@given(split=split_history())
def test_splitting_the_history_across_exports_and_webhooks_changes_nothing(
    ltv_home, one_import, split
):
    arrivals, refresh = split
    assert_same(arrive(ltv_home, arrivals, refresh), one_import)


def respell(rng: random.Random, address: str) -> str:
    cased = rng.choice([str.lower, str.upper, str.title, str.swapcase, str])(address)
    return rng.choice(["", " ", "  "]) + cased + rng.choice(["", " ", "   "])


@PROPERTY
@given(rng=st.randoms(use_true_random=False), by_hook=st.sampled_from([0, 10]))
def test_email_case_and_spaces_change_nothing(ltv_home, one_import, rng, by_hook):
    """Every line's email spelled its own way, in the export and in the deliveries of a few
    days' sales (sold only by webhook)."""
    days = sorted({p.day for p in sample()})
    hooked_days = set(rng.sample(days, by_hook))
    rows, hooks = [], []
    for n, purchase in enumerate(sample()):
        spelled = respell(rng, email(purchase))
        if purchase.day in hooked_days:
            hooks.append(sale_hook(n, spelled))
        else:
            rows.append(export_row(n, spelled))
    note(f"first lines: {[r[-1] for r in rows[:5]]}")
    arrivals = [rows, sorted(hooks, key=lambda hook: hook[1])] if hooks else [rows]
    assert_same(arrive(ltv_home, arrivals, refresh=True), one_import)
