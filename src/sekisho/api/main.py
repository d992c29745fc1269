from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, ValidationError

from sekisho.core.errors import SekishoError

from .auth import TokenAuth, VerifiedSessionAuth
from .contracts import router as contracts_router
from .devices import agent_router, devices_router, media_router
from .ledger import router as ledger_router
from .me import router as me_router
from .permits import router as permits_router

api = NinjaAPI(
    title="Sekisho API",
    version="1",
    description="関所 — 行政情報流出防止対策システム API",
    auth=[TokenAuth(), VerifiedSessionAuth()],
    urls_namespace="api",
    docs_url="/docs" if settings.DEBUG else None,
)
api.add_router("/contracts", contracts_router)
api.add_router("/contracts", ledger_router)
api.add_router("/contracts", permits_router)
api.add_router("/me", me_router)
api.add_router("/devices", devices_router)
api.add_router("/media", media_router)
api.add_router("/agent", agent_router)


def _error(
    request: HttpRequest, status: int, code: str, message: str, clause: str | None = None, **extra: object
) -> HttpResponse:
    body: dict[str, object] = {"error": code, "clause": clause, "message": message}
    body.update(extra)
    return api.create_response(request, body, status=status)


@api.exception_handler(SekishoError)
def on_refusal(request: HttpRequest, exc: SekishoError) -> HttpResponse:
    return _error(request, exc.status, exc.code, exc.message, exc.clause)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", _("見つかりません。"))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", _("ログインまたは有効なAPIトークンが必要です。"))


@api.exception_handler(AuthorizationError)
def on_unauthorised(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return _error(request, 403, "forbidden", _("この操作を行う権限がありません。"))


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _error(request, 422, "invalid", _("入力内容が正しくありません。"), detail=exc.errors)
