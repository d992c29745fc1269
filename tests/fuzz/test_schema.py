"""Schema fuzzing: every operation of /api/v1/openapi.json with data generated from its own schema, as the
information manager (bearer token). No answer may be a 5xx, and every answer must match the schema.

Path parameters name real objects of the main contract (tests/matrix/objects.py), so the generated bodies
and queries reach the services rather than stopping at a 404. Each call runs in a savepoint that is rolled
back, inside the matrix's module-wide world (tests/matrix/conftest.py).

CI runs a few examples per operation (SEKISHO_FUZZ_EXAMPLES, default 5, the same examples every run);
``make bench`` runs many more with a random seed.
"""

from __future__ import annotations

import enum
import os
import typing
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from sekisho.wsgi import application
from tests.matrix.conftest import rolled_back
from tests.matrix.discovery import api_operations
from tests.matrix.objects import PARAMS

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SEKISHO_FUZZ_EXAMPLES", "5"))
RANDOM = os.environ.get("SEKISHO_FUZZ_RANDOM") == "1"
CHECKS = [not_a_server_error, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture
def connections_kept() -> Iterator[None]:
    """The WSGI handler closes "old" connections at each request's start and end; in the test's transaction
    that would close the connection under it. Django's test client disconnects the same handler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _id(key: tuple[str, str]) -> str:
    return f"{key[0].upper()} {key[1]}"


# Operations with a failure found by this test and reported, not yet fixed: the test still runs them (xfail, not
# strict), so the fix shows as XPASS — then remove the entry.
KNOWN: dict[tuple[str, str], str] = {}


@pytest.mark.parametrize("key", sorted(api_operations()), ids=_id)
def test_every_operation_answers_within_its_schema(request, matrix, connections_kept, key):
    if key in KNOWN:
        request.applymarker(pytest.mark.xfail(reason=KNOWN[key], strict=False))
    operation = schema[key[1]][key[0].upper()]
    manager = matrix.world.manager
    headers = {"Authorization": f"Bearer {matrix.tokens['manager']}"}

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        for name in list(case.path_parameters or {}):
            if name in PARAMS:
                case.path_parameters[name] = PARAMS[name].value(matrix.main, manager)
        with rolled_back():
            case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()


def _classes(annotation: Any, seen: set[type]) -> None:
    """Every pydantic model and enum reachable from a type annotation."""
    if isinstance(annotation, type) and annotation not in seen:
        if issubclass(annotation, enum.Enum):
            seen.add(annotation)
        elif issubclass(annotation, pydantic.BaseModel):
            seen.add(annotation)
            for field in annotation.model_fields.values():
                _classes(field.annotation, seen)
    for arg in typing.get_args(annotation):
        _classes(arg, seen)


def test_each_schema_name_stands_for_one_class():
    """The OpenAPI components are named after the classes: two classes of one name (as ``Kind`` of devices and
    of media were) leave one operation described by the other's schema."""
    from sekisho.api.main import api

    seen: set[type] = set()
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    for field in model.model_fields.values():
                        _classes(field.annotation, seen)
                for response in operation.response_models.values():
                    _classes(response, seen)
    by_name: dict[str, set[str]] = {}
    for cls in seen:
        by_name.setdefault(cls.__name__, set()).add(f"{cls.__module__}.{cls.__qualname__}")
    clashes = {name: sorted(found) for name, found in by_name.items() if len(found) > 1}
    assert not clashes, f"rename one of each pair (the schema keeps only one of them): {clashes}"
