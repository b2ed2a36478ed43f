"""Payment providers: an interface, and a sandbox provider with signed webhooks.

A real provider implements the same protocol: `charge` asks it to take the money, `refund`
to give (part of) a payment back under an idempotency key, and its webhooks (the provider's
word that money moved) come in through `POST /api/v1/payments/webhooks/{name}` and are
checked with `verify_webhook`.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from livecart.commerce.errors import BadSignature
from livecart.core.security import sign

SIGNATURE_HEADER = "X-Livecart-Signature"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook: what the provider says happened to one payment."""

    type: str  # payment.succeeded | payment.failed
    reference: str
    order_id: int
    amount: int
    currency: str


@dataclass(frozen=True)
class Charge:
    """What a provider answered to a charge request, with the webhook it sends for it."""

    reference: str
    status: str  # "succeeded" | "failed"
    webhook_body: bytes
    webhook_signature: str


@dataclass(frozen=True)
class ProviderRefund:
    """What a provider answered to a refund request."""

    reference: str
    payment_reference: str
    amount: int
    currency: str
    status: str  # "succeeded"


class PaymentProvider(Protocol):
    """A way to take money; real providers implement the same calls."""

    name: str

    async def charge(self, *, order_id: int, amount: int, currency: str) -> Charge: ...

    async def refund(
        self, *, payment_reference: str, amount: int, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        """Give money back; the same idempotency key answers the same refund, once."""
        ...

    def verify_webhook(self, body: bytes, signature: str | None) -> WebhookEvent: ...


def _event_of(payload: Any) -> WebhookEvent:
    if not isinstance(payload, dict):
        raise BadSignature("the webhook body is not an object")
    try:
        event = WebhookEvent(
            type=str(payload["type"]),
            reference=str(payload["reference"])[:100],
            order_id=int(payload["order_id"]),
            amount=int(payload["amount"]),
            currency=str(payload["currency"])[:3],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadSignature("the webhook body lacks payment fields") from exc
    if event.type not in {PAYMENT_SUCCEEDED, PAYMENT_FAILED}:
        raise BadSignature("unknown webhook type", details={"type": event.type[:40]})
    return event


class SandboxPaymentProvider:
    """Succeeds every charge and signs a webhook the same way a real provider would."""

    name = "sandbox"

    def __init__(self, secret: str) -> None:
        self._secret = secret
        # Refunds by idempotency key, as a real provider keeps them: a retry gets the first one.
        self.refunds: dict[str, ProviderRefund] = {}

    def signed(self, payload: dict[str, Any]) -> tuple[bytes, str]:
        """Serialise and sign a webhook body (also what tests use to forge real ones)."""
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        return body, sign(body, secret=self._secret)

    async def charge(self, *, order_id: int, amount: int, currency: str) -> Charge:
        """Pretend to charge: always succeeds, returns the signed webhook it would send."""
        reference = f"sbx_{secrets.token_hex(10)}"
        body, signature = self.signed(
            {
                "type": PAYMENT_SUCCEEDED,
                "reference": reference,
                "order_id": order_id,
                "amount": amount,
                "currency": currency,
            }
        )
        return Charge(reference, "succeeded", body, signature)

    async def refund(
        self, *, payment_reference: str, amount: int, currency: str, idempotency_key: str
    ) -> ProviderRefund:
        """Pretend to refund: always succeeds; a repeated key answers the first refund."""
        known = self.refunds.get(idempotency_key)
        if known is not None:
            return known
        made = ProviderRefund(
            reference=f"sbx_re_{secrets.token_hex(10)}",
            payment_reference=payment_reference,
            amount=amount,
            currency=currency,
            status="succeeded",
        )
        self.refunds[idempotency_key] = made
        return made

    def verify_webhook(self, body: bytes, signature: str | None) -> WebhookEvent:
        """Return the webhook's event if its HMAC-SHA256 signature is ours."""
        if not signature or not hmac.compare_digest(sign(body, secret=self._secret), signature):
            raise BadSignature("the webhook signature does not match")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise BadSignature("the webhook body is not JSON") from exc
        return _event_of(payload)
