"""Format recognition by header, alias tables, and the user's formats.toml additions."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltv_core.formats.csv_file import inspect_file
from ltv_core.formats.detect import FormatMismatch, detect_format, mapping_for
from ltv_core.formats.profiles import FormatCatalog, FormatConfigError, load_catalog
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (ORDERS_SAMPLE, "samcart-orders"),
        (RECURRING_SAMPLE, "samcart-recurring-subscriptions"),
        (LIMITED_SAMPLE, "samcart-limited-subscriptions"),
    ],
)
def test_the_three_sample_exports_are_recognised(
    path: Path, expected: str, catalog: FormatCatalog
) -> None:
    assert detect_format(catalog, inspect_file(path).header).profile.name == expected


def test_plausible_subscription_header_variants_are_recognised(catalog: FormatCatalog) -> None:
    header = [
        "ID",
        "Email",
        "Product",
        "Subscription Status",
        "Date Created",
        "Recurring Price",
        "Interval",
        "Charges",
        "Amount Collected",
    ]
    mapping = detect_format(catalog, header)
    assert mapping.profile.name == "samcart-recurring-subscriptions"
    assert mapping.positions["created_date"] == 4
    assert mapping.positions["recurring_price"] == 5


def test_a_limited_export_with_start_date_and_price_is_a_payment_plan(
    catalog: FormatCatalog,
) -> None:
    header = ["Subscription ID", "Customer Email", "Start Date", "Price", "Number of Payments"]
    mapping = detect_format(catalog, header)
    assert mapping.profile.name == "samcart-limited-subscriptions"
    assert mapping.positions["plan_payments"] == 4


def test_unknown_columns_are_kept_as_extras_with_their_header(catalog: FormatCatalog) -> None:
    header = ["Order ID", "Order Date", "Price", "Customer Email", "Product Name", "UTM Source"]
    mapping = detect_format(catalog, header)
    assert mapping.extra == {5: "UTM Source"}


def test_no_match_names_the_closest_format_and_its_missing_columns(
    catalog: FormatCatalog,
) -> None:
    header = ["Order ID", "Order Date", "Product Name", "Customer Name"]
    with pytest.raises(FormatMismatch) as error:
        detect_format(catalog, header)
    message = str(error.value)
    assert "closest is samcart-orders" in message
    assert '"Price"' in message
    assert '"Customer Email"' in message


def test_the_closest_format_is_the_one_sharing_the_most_required_columns(
    catalog: FormatCatalog,
) -> None:
    # Both subscription formats recognise both columns too, but require only one of them.
    with pytest.raises(FormatMismatch) as error:
        detect_format(catalog, ["Order ID", "Customer Email"])
    message = str(error.value)
    assert "closest is samcart-orders (SamCart Orders CSV)" in message
    assert 'missing: "Order Date", "Price"; one of "Product ID" or "Product Name".' in message
    assert "recurring" not in message


def test_equally_close_formats_are_all_named(catalog: FormatCatalog) -> None:
    with pytest.raises(FormatMismatch) as error:
        detect_format(catalog, ["Customer Email"])
    message = str(error.value)
    assert "3 formats are equally close" in message
    assert (
        "samcart-recurring-subscriptions (SamCart Recurring Subscriptions CSV), missing: "
        '"Subscription ID", "Created Date".'
    ) in message
    assert "samcart-orders (SamCart Orders CSV), missing:" in message
    assert "samcart-limited-subscriptions (SamCart Limited Subscriptions CSV), missing:" in message


def test_an_explicit_format_that_does_not_fit_says_what_is_missing(
    catalog: FormatCatalog,
) -> None:
    header = inspect_file(ORDERS_SAMPLE).header
    with pytest.raises(FormatMismatch, match='missing: "Subscription ID"'):
        mapping_for(catalog, "samcart-recurring-subscriptions", header)


def test_an_explicit_format_that_does_not_fit_names_the_one_that_does(
    catalog: FormatCatalog,
) -> None:
    header = inspect_file(RECURRING_SAMPLE).header
    with pytest.raises(FormatMismatch) as error:
        mapping_for(catalog, "samcart-orders", header)
    message = str(error.value)
    assert message.startswith(
        'the header does not fit samcart-orders (SamCart Orders CSV), missing: "Order ID", '
        '"Price". The header fits samcart-recurring-subscriptions '
        "(SamCart Recurring Subscriptions CSV): import it as that format"
    )


def test_user_aliases_and_spellings_extend_the_builtin_tables(tmp_path: Path) -> None:
    config = tmp_path / "formats.toml"
    config.write_text(
        '[formats.samcart-orders.aliases]\norder_id = ["Order Reference"]\n\n'
        '[vocabularies.order_status]\ncharged = ["Paid Out"]\n'
    )
    catalog = load_catalog(config)
    header = ["Order Reference", "Order Date", "Price", "Customer Email", "Product Name"]
    assert detect_format(catalog, header).positions["order_id"] == 0
    assert catalog.spellings("order_status")["paid out"] == "charged"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[formats.shopify-orders.aliases]\nx = ['y']\n", "names no known format"),
        ("[formats.samcart-orders.aliases]\nnope = ['y']\n", "names no column"),
        ("[vocabularies.colours]\nred = ['rouge']\n", "not a known spelling table"),
        ("this is not toml", "not valid TOML"),
    ],
)
def test_a_broken_user_config_gets_a_precise_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "formats.toml"
    config.write_text(text)
    with pytest.raises(FormatConfigError, match=message):
        load_catalog(config)
