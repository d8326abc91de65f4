"""Through the Gate: a custody referral's release, the event that moves the person to the community
and keeps one case across the gate, with the release-day checklist the return's resettlement figures count."""
