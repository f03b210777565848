"""Schemathesis against the app's OpenAPI schema, on a real database with master data and an admin key:
whatever it sends to any operation, no request may end in a server error (5xx). The pages, which
``/openapi.json`` leaves out, get the same treatment from a schema made of their routes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from sqlmodel import Session

from tests.factories import api_key, seed_masterdata
from traceability.models import Role


def _server_errors(schema: Any, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Drive every operation of ``schema``; the number of operations and the requests that ended in a 5xx."""
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # an invalid schema fails the test here, loudly
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # noqa: BLE001 - the test client re-raises what the server would answer 500 to
                failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {str(exc)[:200]}")
                return
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")

        check()
    return operations, failures


def test_no_operation_answers_with_a_server_error(app: FastAPI, session: Session) -> None:
    seed_masterdata(session)
    headers = {"Authorization": f"Bearer {api_key(session, Role.admin).token}"}
    session.commit()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations, failures = _server_errors(schema, headers)
    assert operations > 40
    assert not failures, "\n".join(sorted(set(failures))[:20])


def _page_schema(app: FastAPI) -> dict[str, Any]:
    """An OpenAPI schema of the routes ``/openapi.json`` leaves out: the pages (copies, shown; the app is as it was)."""
    shown: list[APIRoute] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and not route.include_in_schema:
            copied = copy.copy(route)
            copied.include_in_schema = True
            shown.append(copied)
    return get_openapi(title="pages", version="0", routes=shown)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_no_page_answers_with_a_server_error(app: FastAPI, session: Session, accept: str) -> None:
    """Every ``/app`` page (and sign-in, the language switch, the consumer check), as a browser and as a script."""
    seed_masterdata(session)
    headers = {"Authorization": f"Bearer {api_key(session, Role.admin).token}", "Accept": accept}
    session.commit()
    raw = _page_schema(app)
    assert sum(path.startswith("/app/") for path in raw["paths"]) >= 15
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = app
    operations, failures = _server_errors(schema, headers)
    assert operations >= 25
    assert not failures, "\n".join(sorted(set(failures))[:20])
