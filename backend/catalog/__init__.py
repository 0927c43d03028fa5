"""Catalog: the category tree and the products in it."""
