"""Domain errors raised by service functions; the web maps them to messages, the API to status codes."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: something the user asked for cannot be done."""

    message = "This cannot be done"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class NotAllowed(DomainError):
    """The user may not do this (HTTP 403)."""

    message = "You do not have permission to do that"


class NotFound(DomainError):
    """No such record, or not one the user may see (HTTP 404: never leak existence)."""

    message = "Page not found"


class InvalidTransition(DomainError):
    """The record is not in a state that allows this action (HTTP 409)."""


class StaleRecord(DomainError):
    """Someone else changed the record since the user read it (HTTP 409)."""

    message = "This record was changed by someone else. Check the latest details and try again."


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` maps each field to its messages (HTTP 422)."""

    message = "There is a problem"

    def __init__(self, errors: dict[str, list[str]], message: str | None = None) -> None:
        super().__init__(message)
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls({field: [message]})


class Conflict(ValidationFailed):
    """Input that clashes with another record, like a session overlapping another of the same
    person (HTTP 409): like ValidationFailed it names the field, so a form shows it beside it."""
