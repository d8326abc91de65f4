"""Importing this module registers every API endpoint on the `api` blueprint, in the order the
OpenAPI document and the docs page list them."""

from portal.api import contracts, referrals, delivery, safeguarding, plans, ttg, invoices, returns, grants, openapi  # noqa: F401, I001 - the order is the docs'
from portal.api.blueprint import bp

__all__ = ["bp"]
