"""Organisations: the CRC and its partner charities."""
