"""Safeguarding concerns: raised by the partner on a referral, acknowledged by the referrer within
working hours, escalated to the referrer's team manager when they are not, closed with an outcome."""
