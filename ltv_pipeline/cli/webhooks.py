"""`ltv webhook-url`: tell the user what to paste into SamCart."""

from __future__ import annotations

from ltv_core.settings import Settings, validate_account
from ltv_core.webhook_tokens import notify_url

SAMCART_STEPS = """\
In SamCart:
  1. Settings > Integrations > New Integration: choose "Notify URL", paste the URL above,
     and give it a name such as "LTV pipeline".
  2. Add a rule for each trigger, all posting to that URL:
       - Product Purchased            (orders; fires once per product line)
       - Subscription Charged         (rebills and payment-plan installments)
       - Product Refunded             (net LTV)
       - Product Partially Refunded   (net LTV)
       - Subscription Canceled        (churn; also fires when a subscription goes delinquent)
       - Subscription Delinquent, Subscription Recovered, Subscription Restarted (optional:
         churn and recovery)
  3. Apply the rules to all products (or to the ones you want in the LTV numbers) and save.
The token in the URL is the only secret: keep the URL private. Expose only the path
/webhooks/samcart/ to the internet (a reverse proxy with TLS or a tunnel); the webhook receiver
listens on {host}:{port}.
"""


def print_webhook_url(settings: Settings, base_url: str | None, account: str) -> int:
    validate_account(account)
    print(notify_url(settings, account, base_url))
    print()
    if not (base_url or settings.webhook_public_url):
        print(
            "This is the local address. Pass --base-url https://your-public-host to print the "
            "URL SamCart must call (or set LTV_WEBHOOK_PUBLIC_URL).\n"
        )
    print(SAMCART_STEPS.format(host=settings.webhook_host, port=settings.webhook_port), end="")
    return 0
