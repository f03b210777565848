"""Schemathesis against GS1's own OpenAPI description of the EPCIS 2.0 REST binding (not the app's), for every
operation this repository implements: whatever is sent, no server error, and each answer in a documented status
conforms to GS1's schema for it; every EPCISQueryDocument answered validates against GS1's EPCIS JSON schema."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
import yaml  # type: ignore[import-untyped]
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlmodel import Session

from tests.conftest import conformance_dir
from tests.factories import api_key, seed_masterdata
from traceability.models import Role

# The binding's operations this repository does not serve (token invalidation, the single-event POST /events).
NOT_SERVED = ("/nextPageToken",)


def _without_remote_refs(node: Any) -> Any:
    """GS1's description points at schemas and examples on gs1.github.io: with no network they are left open
    here, and the EPCIS JSON schema (from the conformance folder) checks the query documents instead."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("http"):
            return {}
        out = {k: _without_remote_refs(v) for k, v in node.items() if k not in ("example", "examples")}
        for word in ("oneOf", "anyOf"):  # a choice with an open branch is open (oneOf would be unsatisfiable)
            if any(branch == {} for branch in out.get(word, [])):
                del out[word]
        return out
    if isinstance(node, list):
        return [_without_remote_refs(v) for v in node]
    return node


def _erratum_one_query(raw: dict[str, Any]) -> None:
    """GS1's ``GET /queries/{queryName}`` describes its answer twice, differently: its example is one object
    (``{"name": …, "query": {…}}``, the shape ``POST /queries`` takes) and its schema an array of such objects. We
    answer the one object, as the example shows; either shape is accepted here, each still checked field by field."""
    answer = raw["paths"]["/queries/{queryName}"]["get"]["responses"]["200"]["content"]["application/json"]
    listed = answer["schema"]
    answer["schema"] = {"anyOf": [listed, listed["items"]]}


def gs1_schema() -> dict[str, Any]:
    raw = yaml.safe_load((conformance_dir("epcis", "REST Bindings") / "openapi.yaml").read_text(encoding="utf-8"))
    _erratum_one_query(raw)
    raw = _without_remote_refs(raw)
    paths = {}
    for path, item in raw["paths"].items():
        if path.startswith(NOT_SERVED):
            continue
        if path == "/events":
            item.pop("post", None)
        paths["/epcis" + path] = item
    raw["paths"] = paths
    raw.pop("servers", None)
    return dict(raw)


def test_gs1_openapi_no_server_error_and_conforming_answers(app: FastAPI, session: Session) -> None:
    import jsonschema

    seed_masterdata(session)
    headers = {"Authorization": f"Bearer {api_key(session, Role.admin).token}"}
    session.commit()
    event_schema = json.loads((conformance_dir("epcis") / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
    schema = schemathesis.openapi.from_dict(gs1_schema())
    schema.app = app
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            try:
                response = case.call_and_validate(headers=headers,
                                                  checks=[not_a_server_error, response_schema_conformance])  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - a failed check or what a server would answer 500 to
                failures.append(f"{case.method} {case.formatted_path}: {type(exc).__name__}: {str(exc)[:400]}")
                return
            content_type = response.headers.get("content-type", [""])
            kind = content_type[0] if isinstance(content_type, list) else str(content_type)
            if response.status_code == 200 and kind.startswith("application/json"):
                body = response.json()
                if isinstance(body, dict) and body.get("type") == "EPCISQueryDocument":
                    errors = list(jsonschema.Draft7Validator(event_schema).iter_errors(body))
                    if errors:
                        failures.append(f"{case.method} {case.formatted_path}: {errors[0].message[:300]}")

        check()
    print(f"\nGS1 OpenAPI: {operations} operations")
    assert operations >= 30
    assert not failures, "\n".join(sorted(set(failures))[:20])


def test_one_named_query_is_answered_in_a_shape_gs1_describes(client: Any, session: Session) -> None:
    """Deterministically, what the random walk above meets only when it happens to read a query it made."""
    import jsonschema

    seed_masterdata(session)
    headers = {"Authorization": f"Bearer {api_key(session, Role.admin).token}"}
    session.commit()
    made = client.post("/epcis/queries", json={"name": "shipped", "query": {"EQ_bizStep": ["shipping"]}},
                       headers=headers)  # fmt: skip
    assert made.status_code == 201, made.text
    answer = client.get("/epcis/queries/shipped", headers=headers)
    assert answer.status_code == 200 and answer.json()["name"] == "shipped", answer.text
    raw = gs1_schema()
    schema = raw["paths"]["/epcis/queries/{queryName}"]["get"]["responses"]["200"]["content"]["application/json"]
    jsonschema.validate(answer.json(), {**schema["schema"], "components": raw["components"]})
    with_list = {**schema["schema"]["anyOf"][0], "components": raw["components"]}
    assert not jsonschema.Draft7Validator(with_list).is_valid(answer.json())  # the erratum is real: one object
