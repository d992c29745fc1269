"""What exists: every UI route of the URL conf and every API operation of the OpenAPI schema.

The access matrix, the security checks and the schema fuzzing all start from here, so an endpoint added
anywhere is picked up without anyone remembering to list it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

API_PREFIX = "/api/v1/"
# Patterns of the API namespace that are no operation of the schema (the schema document itself and the
# API's root); they are checked as UI routes.
API_NAMESPACE = "api"
_CONVERTER = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class UiRoute:
    name: str  # "namespace:name" (or "name" without a namespace)
    route: str  # the route template, e.g. "/contracts/<int:contract_id>/ledger/<int:asset_id>/"
    params: tuple[str, ...]
    default_args: tuple[tuple[str, Any], ...]
    is_api_operation: bool

    def path(self, values: dict[str, Any]) -> str:
        return _CONVERTER.sub(lambda m: str(values[m.group("name")]), self.route)


@dataclass(frozen=True)
class ApiOperation:
    method: str  # lower case, as in the schema
    path: str  # template, e.g. "/api/v1/contracts/{contract_id}/assets/{asset_id}"
    operation: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{([^}]+)}", self.path))

    def url(self, values: dict[str, Any]) -> str:
        return re.sub(r"{([^}]+)}", lambda m: str(values[m.group(1)]), self.path)


def _walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = entry.name or f"<unnamed {entry.lookup_str}>"
            yield prefix + str(entry.pattern), f"{namespace}:{name}" if namespace else name, entry


def _is_ninja_operation(pattern: URLPattern) -> bool:
    return getattr(pattern.callback, "__module__", "") == "ninja.operation"


@cache
def ui_routes_and_api_patterns() -> tuple[UiRoute, ...]:
    routes = []
    for route, name, pattern in _walk(get_resolver().url_patterns, "/", ""):
        params = tuple(m.group("name") for m in _CONVERTER.finditer(route))
        routes.append(
            UiRoute(
                name=name,
                route=route,
                params=params,
                default_args=tuple(sorted(pattern.default_args.items())),
                is_api_operation=_is_ninja_operation(pattern),
            )
        )
    return tuple(routes)


def ui_routes() -> dict[str, UiRoute]:
    """Every route of the URL conf that is not an operation of the API schema, by URL name."""
    found: dict[str, UiRoute] = {}
    for route in ui_routes_and_api_patterns():
        if route.is_api_operation:
            continue
        if route.name in found:
            raise AssertionError(f"two routes share the URL name {route.name!r}: give each its own name")
        found[route.name] = route
    return found


def api_pattern_paths() -> set[str]:
    """The paths of the URL patterns that serve API operations, written as schema templates."""
    return {
        _CONVERTER.sub(lambda m: "{" + m.group("name") + "}", route.route)
        for route in ui_routes_and_api_patterns()
        if route.is_api_operation
    }


@cache
def openapi_schema() -> dict[str, Any]:
    from sekisho.api.main import api

    return api.get_openapi_schema()


def api_operations() -> dict[tuple[str, str], ApiOperation]:
    methods = {"get", "post", "put", "patch", "delete", "head", "options"}
    return {
        (method, path): ApiOperation(method, path, op)
        for path, ops in openapi_schema()["paths"].items()
        for method, op in ops.items()
        if method in methods
    }
