"""Action plans (what the partner will do towards each desired outcome, approved by the referrer, kept
version by version) and progress reviews (asked of the caseworker at 12 weeks and near the end)."""
