"""Payment providers: an interface, and a sandbox provider with signed webhooks."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from livecart.core.security import sign


@dataclass(frozen=True)
class Charge:
    """What a provider answered to a charge request."""

    reference: str
    status: str  # "succeeded" | "failed"
    webhook_body: bytes
    webhook_signature: str


class PaymentProvider(Protocol):
    """A way to take money; real providers implement the same three calls."""

    name: str

    async def charge(self, *, order_id: int, amount: int, currency: str) -> Charge: ...

    def verify_webhook(self, body: bytes, signature: str) -> dict[str, Any]: ...


class WebhookSignatureInvalid(Exception):
    """The webhook body was not signed with our secret."""


class SandboxPaymentProvider:
    """Succeeds every charge and signs a webhook the same way a real provider would."""

    name = "sandbox"

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def charge(self, *, order_id: int, amount: int, currency: str) -> Charge:
        """Pretend to charge: always succeeds, returns the signed webhook it would send."""
        reference = f"sbx_{secrets.token_hex(10)}"
        body = json.dumps(
            {
                "type": "payment.succeeded",
                "reference": reference,
                "order_id": order_id,
                "amount": amount,
                "currency": currency,
            },
            sort_keys=True,
        ).encode()
        return Charge(reference, "succeeded", body, sign(body, secret=self._secret))

    def verify_webhook(self, body: bytes, signature: str) -> dict[str, Any]:
        """Return the webhook's payload if its HMAC-SHA256 signature is ours."""
        if not hmac.compare_digest(sign(body, secret=self._secret), signature or ""):
            raise WebhookSignatureInvalid("bad webhook signature")
        payload: dict[str, Any] = json.loads(body)
        return payload
