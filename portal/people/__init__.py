"""People on probation: found by CRN, shared by every referral made for them."""
