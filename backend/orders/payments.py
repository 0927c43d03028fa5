"""The payment gateway seam, and the bundled dummy gateway used in development and tests.

A real gateway implements ``PaymentGateway``; ``payment_gateway()`` is the one place that
chooses it. ``GatewayError`` means "try again later" (timeouts, 5xx); a decline is a result.
"""

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from django.conf import settings

if TYPE_CHECKING:
    from backend.orders.models import Order

DummyOutcome = Literal["success", "decline", "error"]


class GatewayError(Exception):
    """The gateway could not decide (network, timeout, outage): the charge may be retried."""


@dataclass(frozen=True, slots=True)
class PaymentResult:
    succeeded: bool
    reference: str
    message: str


class PaymentGateway(Protocol):
    def charge(self, *, order: "Order") -> PaymentResult:
        """Charge ``order.total`` in ``order.currency``; raise ``GatewayError`` to be retried."""
        ...


class DummyGateway:
    """Answers with a fixed outcome after ``latency_ms``; charges nothing."""

    def __init__(self, *, outcome: DummyOutcome = "success", latency_ms: int = 0) -> None:
        self.outcome = outcome
        self.latency_ms = latency_ms

    def charge(self, *, order: "Order") -> PaymentResult:
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        if self.outcome == "error":
            raise GatewayError(f"dummy gateway unavailable for order #{order.number}")
        reference = f"dummy_{uuid.uuid4().hex}"
        if self.outcome == "decline":
            return PaymentResult(succeeded=False, reference=reference, message="Card declined.")
        return PaymentResult(
            succeeded=True,
            reference=reference,
            message=f"Charged {order.total} {order.currency}.",
        )


def payment_gateway() -> PaymentGateway:
    """The configured gateway (the dummy one, from PAYMENT_GATEWAY_OUTCOME/_LATENCY_MS)."""
    return DummyGateway(
        outcome=settings.PAYMENT_GATEWAY_OUTCOME, latency_ms=settings.PAYMENT_GATEWAY_LATENCY_MS
    )
