"""Delivery: the sessions partners hold, the outcomes people achieve, and the end-of-service report."""
