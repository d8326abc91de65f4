"""Under /api/v1 a request is only ever who its token says, so the session cookie is not even read
there. (Which requests are the API's is portal.problems' is_api_path.)"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from portal.problems import is_api_path


class NoCookieSessionForTheApi(SecureCookieSessionInterface):
    """The web's signed-cookie sessions, except under /api/v1: there the cookie is not read, so an
    API call can neither act through a browser's session nor keep one alive."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if is_api_path(request.path):
            return None  # Flask then uses a null session, which it never saves
        return super().open_session(app, request)
