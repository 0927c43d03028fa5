"""Charging is idempotent: a payment retried after its worker died mid-charge, or after a
gateway error, reaches the gateway with the same idempotency key and is charged once.

The worker's death is an exception raised after the gateway charged: the payment's
transaction rolls back as it does when the process is killed (tests/topology kills a real one).
"""

from pathlib import Path

import pytest

from backend.accounts.models import User
from backend.catalog.models import Product
from backend.orders.models import Order, OrderStatus, PaymentAttempt, PaymentOutcome
from backend.orders.payments import (
    DummyGateway,
    DummyOutcome,
    GatewayError,
    PaymentResult,
    dummy_charges,
)
from backend.orders.services import (
    OrderLine,
    order_payment_charge,
    order_place,
    payment_idempotency_key,
)

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerKilledError(Exception):
    """Stands for the worker's death between the gateway's charge and the commit."""


class DiesAfterCharging:
    """A gateway client whose process dies once the gateway has charged."""

    def __init__(self, gateway: DummyGateway) -> None:
        self.gateway = gateway

    def charge(self, *, order: Order, idempotency_key: str) -> PaymentResult:
        self.gateway.charge(order=order, idempotency_key=idempotency_key)
        raise WorkerKilledError


class RecordsKeys:
    """The dummy gateway, noting the key of every call."""

    def __init__(self, outcome: DummyOutcome, ledger: Path) -> None:
        self.gateway = DummyGateway(outcome=outcome, ledger=ledger)
        self.keys: list[str] = []

    def charge(self, *, order: Order, idempotency_key: str) -> PaymentResult:
        self.keys.append(idempotency_key)
        return self.gateway.charge(order=order, idempotency_key=idempotency_key)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "charges.jsonl"


@pytest.fixture
def order(customer: User, product: Product) -> Order:
    return order_place(customer=customer, lines=[OrderLine(product.pk, 1)], idempotency_key="p")


def test_the_dummy_gateway_answers_a_repeated_key_with_its_first_charge(
    order: Order, ledger: Path
) -> None:
    gateway = DummyGateway(ledger=ledger)

    first = gateway.charge(order=order, idempotency_key="a")
    again = gateway.charge(order=order, idempotency_key="a")
    other = gateway.charge(order=order, idempotency_key="b")

    assert again == first
    assert other.reference != first.reference
    charges = dummy_charges(ledger)
    assert [(c.idempotency_key, c.reference) for c in charges] == [
        ("a", first.reference),
        ("b", other.reference),
    ]
    assert (charges[0].amount, charges[0].currency) == (str(order.total), order.currency)


def test_a_payment_redelivered_after_its_worker_died_mid_charge_is_charged_once(
    order: Order, ledger: Path
) -> None:
    gateway = DummyGateway(ledger=ledger)
    with pytest.raises(WorkerKilledError):
        order_payment_charge(order_id=order.pk, gateway=DiesAfterCharging(gateway))
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING  # the dead worker's transaction rolled back
    assert not PaymentAttempt.objects.filter(order=order).exists()

    paid = order_payment_charge(order_id=order.pk, gateway=gateway)  # the redelivery

    assert paid is not None
    assert paid.status == OrderStatus.PAID
    (charge,) = dummy_charges(ledger)
    attempt = PaymentAttempt.objects.get(order=order)
    assert (attempt.outcome, attempt.gateway_reference) == (
        PaymentOutcome.SUCCEEDED,
        charge.reference,
    )


def test_a_payment_retried_after_a_gateway_error_keeps_its_key(order: Order, ledger: Path) -> None:
    failing, succeeding = RecordsKeys("error", ledger), RecordsKeys("success", ledger)
    with pytest.raises(GatewayError):
        order_payment_charge(order_id=order.pk, gateway=failing)

    order_payment_charge(order_id=order.pk, gateway=succeeding)

    assert failing.keys == succeeding.keys == [payment_idempotency_key(order)]
    assert [c.succeeded for c in dummy_charges(ledger)] == [True]


def test_paying_again_after_a_decline_is_a_new_charge(order: Order, ledger: Path) -> None:
    declining, succeeding = RecordsKeys("decline", ledger), RecordsKeys("success", ledger)
    order_payment_charge(order_id=order.pk, gateway=declining)

    paid = order_payment_charge(order_id=order.pk, gateway=succeeding)

    assert paid is not None
    assert paid.status == OrderStatus.PAID
    assert declining.keys != succeeding.keys
    assert [c.succeeded for c in dummy_charges(ledger)] == [False, True]
    assert list(PaymentAttempt.objects.filter(order=order).values_list("outcome", flat=True)) == [
        PaymentOutcome.DECLINED,
        PaymentOutcome.SUCCEEDED,
    ]
