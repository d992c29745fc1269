"""The regulation as data: a profile is the list of clauses (ids, Japanese wording, English summary and control).

The default profile is the Kurashiki regulation shipped in ``profiles/kurashiki.toml``. An orderer may load a
variant with its own wording (``services.load_profile``); ``active_profile(contract)`` returns the variant of the
contract's orderer when one is loaded, else the default. Clause ids are the stable names used by rules, findings,
tests and reports, so a variant must keep every id a rule references; it may add clauses of its own.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sekisho.core.models import Contract, Organisation

DEFAULT_PROFILE_KEY = "kurashiki"
MAX_PROFILE_BYTES = 256 * 1024


class ProfileError(ValueError):
    """A profile file that cannot be used: bad TOML, missing fields, duplicate or missing clause ids."""


@dataclass(frozen=True)
class Clause:
    id: str
    title_ja: str
    text_ja: str
    summary_en: str
    control_en: str


@dataclass(frozen=True)
class Profile:
    key: str
    name_ja: str
    clauses: tuple[Clause, ...]
    source_ja: str = ""

    def clause(self, clause_id: str) -> Clause:
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(clause_id)

    @property
    def clause_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.clauses)


def _text(data: dict[str, Any], name: str, where: str, *, required: bool = True) -> str:
    value = data.get(name, "")
    if not isinstance(value, str):
        raise ProfileError(f"{where}: '{name}' must be a string")
    value = value.strip()
    if required and not value:
        raise ProfileError(f"{where}: '{name}' is required")
    return value


def parse_profile(text: str) -> Profile:
    """Parse and check a profile's TOML text. Raises ProfileError with a message naming the problem."""
    if len(text.encode("utf-8")) > MAX_PROFILE_BYTES:
        raise ProfileError(f"profile is larger than {MAX_PROFILE_BYTES} bytes")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"not valid TOML: {exc}") from exc
    key = _text(data, "key", "profile")
    name_ja = _text(data, "name_ja", "profile")
    source_ja = _text(data, "source_ja", "profile", required=False)
    raw_clauses = data.get("clauses")
    if not isinstance(raw_clauses, list) or not raw_clauses:
        raise ProfileError("profile: at least one [[clauses]] table is required")
    clauses: list[Clause] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_clauses, start=1):
        if not isinstance(raw, dict):
            raise ProfileError(f"clause #{index}: must be a table")
        where = f"clause #{index}"
        clause_id = _text(raw, "id", where)
        where = f"clause {clause_id}"
        if clause_id in seen:
            raise ProfileError(f"{where}: duplicate clause id")
        seen.add(clause_id)
        clauses.append(
            Clause(
                id=clause_id,
                title_ja=_text(raw, "title_ja", where),
                text_ja=_text(raw, "text_ja", where),
                summary_en=_text(raw, "summary_en", where, required=False),
                control_en=_text(raw, "control_en", where, required=False),
            )
        )
    return Profile(key=key, name_ja=name_ja, clauses=tuple(clauses), source_ja=source_ja)


def require_clauses(profile: Profile, clause_ids: set[str] | frozenset[str]) -> None:
    """Raise ProfileError naming every clause id in ``clause_ids`` that the profile lacks."""
    missing = sorted(set(clause_ids) - set(profile.clause_ids))
    if missing:
        raise ProfileError("profile lacks clauses referenced by the rules: " + ", ".join(missing))


def shipped_profile_text(name: str) -> str:
    """The TOML text of a profile shipped in the package (``kurashiki``, ``mlit-standard``)."""
    return resources.files("sekisho.compliance").joinpath("profiles", f"{name}.toml").read_text("utf-8")


def shipped_profile_names() -> list[str]:
    folder = resources.files("sekisho.compliance").joinpath("profiles")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


@lru_cache(maxsize=1)
def default_profile() -> Profile:
    return parse_profile(shipped_profile_text(DEFAULT_PROFILE_KEY))


@lru_cache(maxsize=32)
def _parsed(content: str) -> Profile:
    return parse_profile(content)


def orderer_profile(orderer: Organisation | int | None) -> Profile:
    """The profile loaded for an orderer organisation (the latest load), else the default."""
    if orderer is None:
        return default_profile()
    from sekisho.compliance.models import ComplianceProfile

    orderer_id = orderer if isinstance(orderer, int) else orderer.pk
    content = (
        ComplianceProfile.objects.filter(orderer_id=orderer_id)
        .order_by("-loaded_at", "-pk")
        .values_list("content", flat=True)
        .first()
    )
    if content is None:
        return default_profile()
    return _parsed(content)


def active_profile(contract: Contract) -> Profile:
    """The contract's orderer's loaded variant, else the default profile."""
    return orderer_profile(contract.orderer_id)
