"""Accounts: users, roles (customer, staff, admin) and authentication."""
