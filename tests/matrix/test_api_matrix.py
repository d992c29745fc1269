"""Every API operation of /api/v1/openapi.json, called as every persona, against the one table
(tests/matrix/expectations.py). An operation without a row fails here, with the row to add."""

from __future__ import annotations

import pytest

from .conftest import MEMBERS, PERSONAS
from .discovery import api_operations, api_pattern_paths, openapi_schema
from .expectations import API, FORBIDDEN, NOT_FOUND
from .objects import PARAMS
from .runner import api_request, cross_contract_swaps, is_contract_scoped, judge_api, swappable

pytestmark = pytest.mark.django_db  # the rows run in the module's world (tests/matrix/conftest.py)

OPS = api_operations()
KEYS = sorted(set(OPS) | set(API))


def _id(key: tuple[str, str]) -> str:
    return f"{key[0].upper()} {key[1]}"


def test_every_api_operation_has_a_row_and_every_row_an_operation():
    missing = sorted(set(OPS) - set(API))
    stale = sorted(set(API) - set(OPS))
    assert not missing, (
        "API operations without a row in tests/matrix/expectations.py API — add one for each "
        "(`pytest tests/matrix/observe.py -s -k '<path>'` shows what each persona gets now):\n"
        + "\n".join(f'    ("{m}", "{p}"): Api(...),' for m, p in missing)
    )
    assert not stale, "rows for operations that no longer exist — remove them:\n" + "\n".join(map(str, stale))


def test_every_api_route_is_in_the_schema():
    """An operation left out of the schema (include_in_schema=False) would escape the matrix and fuzzing."""
    schema_paths = set(openapi_schema()["paths"])
    hidden = sorted(api_pattern_paths() - schema_paths)
    assert not hidden, f"API routes missing from /api/v1/openapi.json: {hidden}"


def test_every_path_parameter_has_a_factory():
    unknown = sorted(
        {p for op in OPS.values() for p in op.params if p not in PARAMS and p not in _fixed(op.key)}
    )
    assert not unknown, (
        f"path parameters without a factory: {unknown} — add each to PARAMS in tests/matrix/objects.py"
    )


def _fixed(key: tuple[str, str]) -> dict[str, object]:
    row = API.get(key)
    return row.params if row else {}


@pytest.mark.parametrize("key", KEYS, ids=_id)
def test_each_persona_gets_what_the_table_says(matrix, key):
    if key not in OPS:
        pytest.fail(f"the row {key} names no operation of the schema: remove it from expectations.API")
    if key not in API:
        pytest.fail(f"no row for {key} in tests/matrix/expectations.API: add one")
    op, row = OPS[key], API[key]
    if is_contract_scoped(op.params, row):
        assert row.outsider == NOT_FOUND, "a route naming an object of a contract gives outsiders 404, always"
    problems = []
    for persona in PERSONAS:
        problems += judge_api(matrix, op, row, persona, api_request(matrix, op, row, persona))
    assert not problems, f"{_id(key)}:\n  " + "\n  ".join(problems)


WITH_OBJECTS = [k for k in KEYS if k in OPS and k in API and swappable(OPS[k].params, API[k])]


@pytest.mark.parametrize("key", WITH_OBJECTS, ids=_id)
def test_objects_of_another_contract_are_not_found(matrix, key):
    """The main contract's id with an object of the other contract: every member gets 404 (or the 403 the
    member gets from the main contract itself, before any object is looked up)."""
    op, row = OPS[key], API[key]
    problems = []
    for name, value in cross_contract_swaps(matrix, op.params, row):
        for persona in MEMBERS:
            outcome = api_request(matrix, op, row, persona, **{name: value})
            allowed = {NOT_FOUND, FORBIDDEN} if row.expect[persona] == FORBIDDEN else {NOT_FOUND}
            if outcome.status not in allowed:
                problems.append(
                    f"{persona} with {name} of the other contract: expected 404, got {outcome.brief()}"
                )
    assert not problems, f"{_id(key)}:\n  " + "\n  ".join(problems)
