"""The payment gateway seam, and the bundled dummy gateway used in development and tests.

A real gateway implements ``PaymentGateway``; ``payment_gateway()`` is the one place that
chooses it. ``GatewayError`` means "try again later" (timeouts, 5xx); a decline is a result.
"""

import fcntl
import json
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
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
    def charge(self, *, order: "Order", idempotency_key: str) -> PaymentResult:
        """Charge ``order.total`` in ``order.currency``; raise ``GatewayError`` to be retried.

        A second call with the same ``idempotency_key`` returns the first call's result and
        charges nothing (as Stripe's Idempotency-Key header does): the caller may have died
        after the gateway charged and before it recorded the answer.
        """
        ...


@dataclass(frozen=True, slots=True)
class DummyCharge:
    """One decision the dummy gateway took, as its ledger keeps it."""

    idempotency_key: str
    succeeded: bool
    reference: str
    message: str
    amount: str
    currency: str


class DummyGateway:
    """Answers with a fixed outcome; charges nothing real.

    The decision is taken first and its answer arrives ``latency_ms`` later, as with a real
    gateway. With a ``ledger`` (a JSON-lines file shared by every process), each decision is
    written once per idempotency key and a repeated key gets the recorded answer back; without
    one, the gateway keeps nothing and every call decides afresh.
    """

    def __init__(
        self, *, outcome: DummyOutcome = "success", latency_ms: int = 0, ledger: Path | None = None
    ) -> None:
        self.outcome = outcome
        self.latency_ms = latency_ms
        self.ledger = ledger

    def charge(self, *, order: "Order", idempotency_key: str) -> PaymentResult:
        if self.outcome == "error":
            self._answer_travels()
            raise GatewayError(f"dummy gateway unavailable for order #{order.number}")
        decided = self._decision_once(
            DummyCharge(
                idempotency_key=idempotency_key,
                succeeded=self.outcome == "success",
                reference=f"dummy_{uuid.uuid4().hex}",
                message="Card declined."
                if self.outcome == "decline"
                else f"Charged {order.total} {order.currency}.",
                amount=str(order.total),
                currency=order.currency,
            )
        )
        self._answer_travels()
        return PaymentResult(
            succeeded=decided.succeeded, reference=decided.reference, message=decided.message
        )

    def _answer_travels(self) -> None:
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)

    def _decision_once(self, decision: DummyCharge) -> DummyCharge:
        """``decision`` written to the ledger, or the one already there for its key."""
        if self.ledger is None:
            return decision
        with self.ledger.open("a+") as ledger:
            fcntl.flock(ledger, fcntl.LOCK_EX)  # one writer at a time, across processes
            ledger.seek(0)
            for line in ledger:
                recorded = DummyCharge(**json.loads(line))
                if recorded.idempotency_key == decision.idempotency_key:
                    return recorded
            ledger.write(json.dumps(asdict(decision)) + "\n")
        return decision


def dummy_charges(ledger: Path) -> list[DummyCharge]:
    """Every decision recorded in a dummy gateway's ``ledger``, oldest first."""
    if not ledger.exists():
        return []
    return [DummyCharge(**json.loads(line)) for line in ledger.read_text().splitlines()]


def payment_gateway() -> PaymentGateway:
    """The configured gateway (the dummy one, from the PAYMENT_GATEWAY_* settings)."""
    return DummyGateway(
        outcome=settings.PAYMENT_GATEWAY_OUTCOME,
        latency_ms=settings.PAYMENT_GATEWAY_LATENCY_MS,
        ledger=Path(settings.PAYMENT_GATEWAY_LEDGER) if settings.PAYMENT_GATEWAY_LEDGER else None,
    )
