"""Celery tasks for orders: thin wrappers over ``services``, each idempotent.

Dispatched only from ``services`` through ``transaction.on_commit`` (the beat schedule starts
``orders_expire``). Delivery is at-least-once (``acks_late``); each service refuses a repeat.
Each task imports the services inside its body: the services import this module to enqueue,
and importing them here at module level would make the two a cycle.
"""

import logging

from celery import shared_task

from backend.orders.payments import GatewayError, payment_gateway

logger = logging.getLogger(__name__)


@shared_task(
    name="orders.payment_process",
    acks_late=True,
    autoretry_for=(GatewayError,),
    retry_backoff=2,  # 2 s, 4 s, 8 s ... with full jitter
    retry_backoff_max=120,
    max_retries=6,
)
def payment_process(order_id: int) -> str:
    """Charge a PENDING order through the configured gateway; PAID on success."""
    from backend.orders import services

    order = services.order_payment_charge(order_id=order_id, gateway=payment_gateway())
    return "skipped" if order is None else order.status


@shared_task(name="orders.orders_expire", acks_late=True)
def orders_expire() -> int:
    """Expire and restock PENDING orders past their time to live; safe to overlap."""
    from backend.orders import services

    expired = services.orders_expire()
    logger.info("orders_expire: %d orders expired", expired)
    return expired


@shared_task(name="orders.order_confirmation_send", acks_late=True)
def order_confirmation_send(order_id: int) -> bool:
    """Email the order summary to the customer, once."""
    from backend.orders import services

    return services.order_confirmation_send(order_id=order_id)


@shared_task(name="orders.stock_low_alert", acks_late=True)
def stock_low_alert(stock_alert_id: int) -> bool:
    """Email staff that an order took a product below the low-stock threshold, once."""
    from backend.orders import services

    return services.stock_alert_send(stock_alert_id=stock_alert_id)
