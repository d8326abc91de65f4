"""Text people send: what counts as blank, and what no database column can hold.

Every form field and query parameter passes through `CleanedParameters` (the app's request class
uses it), so one rule covers every page: a value made only of spaces and invisible characters
(zero-width spaces, joiners, direction marks, Hangul fillers) arrives as "", and so meets the
field's own "Enter …" message; a NUL character, which PostgreSQL cannot store, is refused (400).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, iter_multi_items
from werkzeug.exceptions import BadRequest

# Not visible on their own: spaces, controls, format characters (ZWSP, ZWJ, BOM, bidi marks) and
# combining marks; and characters drawn as nothing though classed as letters.
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me"})
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
NUL_REFUSED = (
    "The page address or the form had a NUL character in it, which cannot be stored. "
    "Remove it (it often comes from copying out of another system) and try again."
)


def has_visible_text(text: str) -> bool:
    return any(
        unicodedata.category(character) not in INVISIBLE_CATEGORIES and character not in BLANK_LETTERS
        for character in text
    )


def blank_if_invisible(value: Any) -> Any:
    """`value`, or "" if it is text with nothing visible in it."""
    if isinstance(value, str) and value and not has_visible_text(value):
        return ""
    return value


class NulCharacterRefused(BadRequest):
    description = NUL_REFUSED
    public_description = NUL_REFUSED  # the 400 page shows it: it tells the user what to change


def _checked(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise NulCharacterRefused
    return blank_if_invisible(value)


class CleanedParameters(ImmutableMultiDict):
    """request.args and request.form, every text value checked and blank-if-invisible."""

    def __init__(self, mapping: Any = None) -> None:
        if mapping is not None:
            mapping = [(_checked(key), _checked(value)) for key, value in iter_multi_items(mapping)]
        super().__init__(mapping)


class PortalRequest(Request):
    parameter_storage_class = CleanedParameters
