"""`ltv serve-webhooks` and `ltv webhook-url`: run the sidecar, and tell the user what to paste."""

from __future__ import annotations

from ltv_pipeline.settings import Settings, validate_account

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
/webhooks/samcart/ to the internet (a reverse proxy with TLS or a tunnel); the sidecar listens on
{host}:{port}.
"""


def print_webhook_url(settings: Settings, base_url: str | None, account: str) -> int:
    from ltv_webhook.tokens import ensure_token

    validate_account(account)
    token = ensure_token(settings.webhook_tokens_path, account)
    print(settings.webhook_url(token, base_url))
    print()
    if not (base_url or settings.webhook_public_url):
        print(
            "This is the local address. Pass --base-url https://your-public-host to print the "
            "URL SamCart must call (or set LTV_WEBHOOK_PUBLIC_URL).\n"
        )
    print(SAMCART_STEPS.format(host=settings.webhook_host, port=settings.webhook_port), end="")
    return 0


def serve_webhooks(settings: Settings, host: str | None, port: int | None) -> int:
    from ltv_webhook.server import serve

    serve(settings, host=host, port=port)
    return 0
