"""Fixtures of the labels tests: master data, a signing key, and a job factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from codes import service as codes_service
from codes.keyfiles import KeyFileStore
from labels import service
from tests.factories import GTIN, seed_masterdata
from traceability.models import CodeLevel, LabelSymbology, PrintJob

RESOLVER = "https://id.example.com"


@pytest.fixture
def store(tmp_path: Path) -> KeyFileStore:
    return KeyFileStore(tmp_path / "keys")


@pytest.fixture
def ready(session: Session, store: KeyFileStore) -> Session:
    seed_masterdata(session)
    codes_service.create_key(session=session, store=store)
    return session


MakeJob = Callable[..., Any]
"""Makes a job (typed loosely: tests use ``job.id`` without proving it is set)."""


@pytest.fixture
def make_job(ready: Session, store: KeyFileStore) -> MakeJob:
    def make(quantity: int = 5, template: str = "a4-3x8", level: CodeLevel = CodeLevel.unit,
             symbology: LabelSymbology | None = None, **kw: Any) -> PrintJob:  # fmt: skip
        return service.create_job(
            session=ready, store=store, party_id=kw.pop("party_id", "PLANT-1"), gtin=kw.pop("gtin", GTIN),
            lot=kw.pop("lot", "L2611"), expiry=kw.pop("expiry", "271231"), quantity=quantity, level=level,
            template=template, by=kw.pop("by", "alice"), symbology=symbology, **kw,
        )  # fmt: skip

    return make
