"""The error contract: every refusal carries a code, the clause it enforces (if any) and a Japanese message.

The API renders these as ``{"error": code, "clause": clause, "message": message}`` with the status below; the
web UI and the CLI show the same message.
"""

from __future__ import annotations

from typing import Any


class SekishoError(Exception):
    status = 400
    default_code = "error"

    def __init__(self, message: Any, *, code: str | None = None, clause: str | None = None) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.code = code or self.default_code
        self.clause = clause

    def as_dict(self) -> dict[str, str | None]:
        return {"error": self.code, "clause": self.clause, "message": self.message}

    def __str__(self) -> str:
        return f"[{self.clause}] {self.message}" if self.clause else self.message


class NotFound(SekishoError):
    """Not there, or not yours to know about: outsiders never learn that another contract's object exists."""

    status = 404
    default_code = "not_found"


class Forbidden(SekishoError):
    status = 403
    default_code = "forbidden"


class Conflict(SekishoError):
    """The request is understood but the current state forbids it (e.g. a transition the table does not allow)."""

    status = 409
    default_code = "conflict"


class Invalid(SekishoError):
    status = 422
    default_code = "invalid"
