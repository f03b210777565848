"""Wrong types at every field of every kind of EPCIS event: each is refused naming the field, never a crash, on
the database under test (PostgreSQL refuses what its columns cannot hold with errors of its own, so the checks
must come first)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from scanning.epcis import capture_document
from scanning.errors import InvalidDocument
from tests.robustness.documents import WRONG, document, full_events, paths, replaced
from traceability.errors import TraceabilityError


def _capture(session: Session, doc: dict[str, Any]) -> Exception | None:
    savepoint = session.begin_nested()
    try:
        capture_document(session=session, document=doc)
    except Exception as exc:  # noqa: BLE001 - what is raised is what the test is about
        return exc
    finally:
        savepoint.rollback()
    return None


def test_full_events_capture(session: Session) -> None:
    assert _capture(session, document(*full_events("00000001"))) is None


@pytest.mark.parametrize("kind", range(5), ids=["object", "aggregation", "transaction", "transformation",
                                                 "association"])  # fmt: skip
def test_every_wrong_type_at_every_field_is_refused_by_name(session: Session, kind: int) -> None:
    event = full_events("00000002")[kind]
    crashes: list[str] = []
    unnamed: list[str] = []
    for path in paths(event):
        for value in WRONG:
            bad = replaced(event, path, value)
            error = _capture(session, document(bad))
            where = "/".join(str(p) for p in path)
            if error is None:
                continue  # a value the standard allows there ("x" as a bizStep, [] as an epcList)
            if not isinstance(error, TraceabilityError) or error.status_code >= 500:
                crashes.append(f"{where} = {value!r:.40}: {type(error).__name__}: {str(error)[:200]}")
            elif not isinstance(error, InvalidDocument) or not any(
                str(p) in problem.reason for problem in error.problems for p in path if isinstance(p, str)
            ):
                unnamed.append(f"{where} = {value!r:.40}: {error}")
    assert not crashes, "\n".join(crashes[:20])
    assert not unnamed, "\n".join(unnamed[:20])
