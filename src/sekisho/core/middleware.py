from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .context import reset_request_id, set_request_id

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Nothing external: scripts, styles, fonts, images and connections only from this deployment.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class RequestIdMiddleware:
    """Give each request an id (or keep a well-formed one from the proxy) for logs and audit events."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = set_request_id(request_id)
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request_id
        return response


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        response.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if not request.path.startswith("/static/"):
            response.setdefault("Cache-Control", "no-store")
        return response


class RejectNulMiddleware:
    """Refuse text containing NUL (U+0000) in the path, the query string or a JSON/form body with 400.

    No field of Sekisho can hold it (PostgreSQL text refuses it outright), so it is bad input at the edge, not
    a database error later. Raw uploads (the vault's octet streams, multipart files) are not read here."""

    _TEXT_BODIES = ("application/json", "application/x-www-form-urlencoded")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from urllib.parse import unquote_to_bytes

        bad = "\x00" in request.path or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", ""))
        if not bad and request.content_type in self._TEXT_BODIES:
            body = request.body
            bad = b"\x00" in body or b"\\u0000" in body
            if request.content_type == "application/x-www-form-urlencoded":
                bad = bad or b"%00" in body
        if bad:
            from django.http import JsonResponse
            from django.utils.translation import gettext as _

            return JsonResponse(
                {
                    "error": "invalid",
                    "clause": None,
                    "message": _("入力に使用できない文字（NUL）が含まれています。"),
                },
                status=400,
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Answer 503 — JSON under /api/, a plain page elsewhere — when the database cannot be reached, instead of
    the generic 500. The failed transaction has rolled back, so nothing is half-written.

    Django turns an exception into a 500 response inside each middleware layer, so a layer further out never
    sees it; the ``got_request_exception`` signal, sent while the exception is being handled, marks the
    request, and this middleware replaces that 500. It sits just inside the security headers, so the 503
    carries them, and outside the session and authentication layers, whose database errors it covers too.
    The page is built without templates: rendering one may need the database (the user, the session)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.core.signals import got_request_exception

        self.get_response = get_response
        got_request_exception.connect(_mark_database_unavailable, dispatch_uid="sekisho-database-unavailable")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, "_sekisho_database_unavailable", False):
            return database_unavailable_response(request)
        return response


def _mark_database_unavailable(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    import sys

    from django.db import InterfaceError, OperationalError

    if request is not None and isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        request._sekisho_database_unavailable = True  # type: ignore[attr-defined]


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    from django.http import JsonResponse
    from django.utils.html import escape
    from django.utils.translation import gettext as _

    message = _("データベースに接続できません。しばらくしてから、もう一度お試しください。")
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"error": "database_unavailable", "clause": None, "message": message}, status=503
        )
    else:
        title = _("一時的に利用できません")
        page = (
            '<!doctype html><html lang="ja"><head><meta charset="utf-8">'
            f"<title>503 | {escape(title)}</title></head>"
            f"<body><h1>{escape(title)}</h1><p>{escape(message)}</p></body></html>"
        )
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = "30"
    return response


class SecondFactorMiddleware:
    """A session that passed the password but still owes its second factor reaches only the second-factor
    pages and logout. API calls with a session get the same rule in the API's session auth."""

    ALLOWED_PREFIXES = ("/static/", "/login/", "/logout/", "/i18n/", "/api/", "/healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from .auth import needs_second_factor

        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and not user.is_verified()
            and needs_second_factor(user)
        ):
            return HttpResponseRedirect(reverse("web:login-otp"))
        return self.get_response(request)


class RefusalPageMiddleware:
    """Render a refusal raised in a browser view as a page with its status, message and clause.

    (The API renders the same errors as JSON in its own exception handlers.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.shortcuts import render

        from .errors import SekishoError

        if not isinstance(exception, SekishoError):
            return None
        from sekisho.obs.metrics import count_refusal

        count_refusal(exception, "web")
        if exception.code == "training_required" and getattr(exception, "contract_id", None):
            return _to_training(request, exception)
        return render(request, "web/error.html", {"error": exception}, status=exception.status)


def _to_training(request: HttpRequest, exception: Any) -> HttpResponse:
    """A member not yet trained who opens the contract's information is sent to its training page, with the
    refusal (and R2.4.1) as a message; after acknowledging, a GET brings them back where they were."""
    from urllib.parse import urlencode

    from django.contrib import messages

    messages.warning(request, str(exception))
    target = reverse("people:training", args=[exception.contract_id])
    if request.method == "GET" and not request.headers.get("HX-Request"):
        target += "?" + urlencode({"next": request.get_full_path()})
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204, headers={"HX-Redirect": target})
    return HttpResponseRedirect(target)
