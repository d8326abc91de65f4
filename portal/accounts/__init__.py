"""Accounts: users, roles, signing in and out, passwords and user administration."""
