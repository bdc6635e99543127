"""The transactions check counts rebuilt slots from the export row the model keeps."""

from ltv_pipeline.defs.model.reconciliation import reconcile_transactions
from tests.marts.cases import warehouse
from tests.model.loading import load_csv, rebuild
from tests.support import LIMITED_SAMPLE, ORDERS_SAMPLE, RECURRING_SAMPLE


def test_a_subscription_in_both_exports_is_checked_against_its_payment_plan_row(ltv_home, tmp_path):
    # 8002 is a payment plan with 2 payments; a recurring export also lists it, with 5 charges.
    recurring = tmp_path / "recurring.csv"
    recurring.write_text(
        RECURRING_SAMPLE.read_text(encoding="utf-8")
        + "8002,Grace,Hopper,grace@navy.example,55530,Coaching (3 pay),Active,03/01/2024,"
        '05/01/2024,$300.00,Monthly,5,"$1,500.00"\n',
        encoding="utf-8",
    )
    with warehouse(ltv_home) as conn:
        for path in (ORDERS_SAMPLE, recurring, LIMITED_SAMPLE):
            load_csv(conn, ltv_home, path)
        rebuild(conn)
        assert conn.execute(
            "SELECT plan_kind, payments_made FROM subscriptions WHERE subscription_id = '8002'"
        ).fetchall() == [("payment_plan", 2)]
        figures = reconcile_transactions(conn, "email")
        assert figures["source_rebuilt_slots"] == figures["model_rebuilt_or_replaced"] == 4
        assert figures["passed"], figures
