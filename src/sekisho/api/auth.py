"""API authentication: bearer tokens for scripts, the browser session (with CSRF and the second factor)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from sekisho.core.auth import needs_second_factor, user_for_token


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is None:
            return None
        request.user = user
        return user


class VerifiedSessionAuth(APIKeyCookie):
    """The browser's session, accepted only once the second factor is done (when the user needs one)."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if needs_second_factor(user) and not user.is_verified():
            return None
        return user
