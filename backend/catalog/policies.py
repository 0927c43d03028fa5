"""Who may see what of the catalog: plain-Python rules every transport calls (GraphQL types,
REST serializers and views, WebSocket subscriptions), so none can show more than another."""

from backend.accounts.policies import ViewerType, is_staff_user


def stock_visible_to(viewer: ViewerType | None) -> bool:
    """Whether ``viewer`` may learn exact stock levels (``stockQuantity``, the units left in
    an INSUFFICIENT_STOCK refusal): staff only. Everyone else sees ``inStock``; the exact
    count would let a competitor read a shop's inventory."""
    return is_staff_user(viewer)


def unpublished_visible_to(viewer: ViewerType | None) -> bool:
    """Whether ``viewer`` may see unpublished products: staff only."""
    return is_staff_user(viewer)
