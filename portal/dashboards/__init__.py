"""Dashboards: the figures across contracts, for contract managers and for partners."""
