"""Shared GraphQL infrastructure: the view, keyset connections, Money, error codes.

A subpackage of ``backend.core`` (never a top-level ``graphql``), so it cannot shadow
graphql-core; modules inside use absolute imports only.
"""
