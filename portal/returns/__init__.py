"""Service returns: a partner's periodic performance report, its figures, charts and PDF."""
