"""Audit: the append-only record of who did what, when, to which record."""
