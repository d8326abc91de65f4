"""Referrals: the CRC sends, the partner accepts or declines, both follow the case."""
