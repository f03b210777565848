"""Schemathesis against the app's OpenAPI schema, on a real database with master data and an admin key:
whatever it sends to any operation, no request may end in a server error (5xx)."""

from __future__ import annotations

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from sqlmodel import Session

from tests.factories import api_key, seed_masterdata
from traceability.models import Role


def test_no_operation_answers_with_a_server_error(app: FastAPI, session: Session) -> None:
    seed_masterdata(session)
    headers = {"Authorization": f"Bearer {api_key(session, Role.admin).token}"}
    session.commit()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails the test here, loudly
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
    assert operations > 40
    assert not failures, "\n".join(sorted(set(failures))[:20])
