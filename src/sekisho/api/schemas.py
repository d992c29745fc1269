from __future__ import annotations

from typing import Annotated

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination


class ErrorOut(Schema):
    error: str
    clause: str | None
    message: str


# A database id as the API accepts it: anything outside a 64-bit key is refused with 422 before any query.
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """Limit/offset paging whose numbers are bounded, so an absurd offset is a 422, never a database error."""

    class Input(Schema):
        limit: int = Field(100, ge=1, le=1000)
        offset: int = Field(0, ge=0, le=10**9)
