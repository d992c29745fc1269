from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from sekisho.core.errors import SekishoError
from sekisho.obs.metrics import count_refusal

from .audit import router as audit_router
from .auth import TokenAuth, VerifiedSessionAuth
from .closeout import router as closeout_router
from .compliance import router as compliance_router
from .contracts import router as contracts_router
from .devices import agent_router, devices_router, media_router
from .incidents import orderer_router as orderer_incidents_router
from .incidents import router as incidents_router
from .ledger import router as ledger_router
from .ledger_files import router as ledger_files_router
from .me import router as me_router
from .oversight import router as oversight_router
from .people import router as people_router
from .permits import router as permits_router
from .vault import router as vault_router

api = NinjaAPI(
    title="Sekisho API",
    version="1",
    description="関所 — 行政情報流出防止対策システム API",
    auth=[TokenAuth(), VerifiedSessionAuth()],
    urls_namespace="api",
    docs_url="/docs" if settings.DEBUG else None,
)
api.add_router("/contracts", contracts_router)
# ledger_files first: its /assets/import must match before /assets/{asset_id} does.
api.add_router("/contracts", ledger_files_router)
api.add_router("/contracts", ledger_router)
api.add_router("/contracts", permits_router)
api.add_router("/contracts", people_router)
api.add_router("/contracts", vault_router)
api.add_router("/contracts", incidents_router)
api.add_router("/contracts", closeout_router)
api.add_router("/contracts", compliance_router)
api.add_router("/contracts", oversight_router)
api.add_router("/incidents", orderer_incidents_router)
api.add_router("/me", me_router)
api.add_router("/audit", audit_router)
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
    count_refusal(exc, "api")
    return _error(request, exc.status, exc.code, exc.message, exc.clause, **getattr(exc, "extra", {}))


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", _("見つかりません。"))


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", _("ログインまたは有効なAPIトークンが必要です。"))


@api.exception_handler(AuthorizationError)
def on_unauthorised(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return _error(request, 403, "forbidden", _("この操作を行う権限がありません。"))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # django-ninja's own refusals (a body that is not JSON: 400; a session call without its CSRF token: 403)
    # in the same contract as ours.
    if exc.status_code == 400:
        return _error(request, 400, "bad_request", _("リクエストの本文を読み取れません。"))
    code = "forbidden" if exc.status_code == 403 else "error"
    return _error(request, exc.status_code, code, str(exc))


@api.exception_handler(ValidationError)
def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _error(request, 422, "invalid", _("入力内容が正しくありません。"), detail=exc.errors)
