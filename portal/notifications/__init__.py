"""Notifications: every email the portal sends goes through here and is kept in the outbox table."""
