"""Grants (Tier III) paid by a schedule of instalments, grant-funded activity recorded without a
referral, and a contract's expected volumes and spend profile (issue 18, part B)."""
