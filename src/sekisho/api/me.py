from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

router = Router(tags=["me"])


class MeOut(Schema):
    username: str
    display_name: str
    organisation: str | None


@router.get("", response=MeOut, summary="ログイン中の利用者")
def me(request: HttpRequest) -> dict[str, object]:
    user = request.user
    return {
        "username": user.get_username(),
        "display_name": getattr(user, "display_name", ""),
        "organisation": user.organisation.name if getattr(user, "organisation", None) else None,  # type: ignore[union-attr]
    }
