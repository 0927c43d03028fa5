"""Orders: checkout, the order state machine and its audit log."""
