"""Contracts between the CRC and its partners, their rate cards and effective-dated prices."""
