"""Who may see what of an order: plain-Python rules every transport calls (GraphQL over HTTP,
REST and the WebSocket subscriptions), so none can show more than another."""

from backend.accounts.policies import ViewerType, user_visible_to


def actor_visible_to(viewer: ViewerType | None, actor_id: int | None) -> bool:
    """Whether ``viewer`` may see who made a change of an order (an ``OrderEvent``'s actor):
    exactly when they may see that account, so a customer sees themselves and never the staff
    member who shipped or cancelled their order; staff see everyone. A change made by the
    system (payment, expiry) has no actor to see."""
    return user_visible_to(viewer, actor_id)
