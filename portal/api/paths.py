"""Where the API lives, and the one thing the rest of the app must know about it: under /api/v1 a
request is only ever who its token says, so the session cookie is not even read there."""

from __future__ import annotations

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

API_PREFIX = "/api/v1"


def is_api_path(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def is_api_request() -> bool:
    return is_api_path(request.path)


class NoCookieSessionForTheApi(SecureCookieSessionInterface):
    """The web's signed-cookie sessions, except under /api/v1: there the cookie is not read, so an
    API call can neither act through a browser's session nor keep one alive."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if is_api_path(request.path):
            return None  # Flask then uses a null session, which it never saves
        return super().open_session(app, request)
