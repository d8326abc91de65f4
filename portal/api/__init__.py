"""The JSON API v1 under /api/v1 (see shared/API.md and docs/api.md), its OpenAPI document and
docs page. Personal API tokens belong to accounts (portal/accounts/tokens.py).

Handlers call the same service functions as the web pages; this package only turns JSON into
their arguments and their results and errors into JSON. Kept free of imports, so that
portal.access can import the token model without importing the API.
"""
