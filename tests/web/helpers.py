"""Codes in a given life-cycle state, for the page tests (TestClient and browser)."""

from __future__ import annotations

import io

from sqlmodel import Session

from codes import service as codes
from codes.keyfiles import KeyFileStore
from scanning.service import ScanRequest, record_scans
from tests.factories import GTIN
from traceability.auth.service import Principal
from traceability.models import Role, SigningKey


def make_codes(session: Session, store: KeyFileStore, count: int, *, resolver: str = "https://id.example.com",
               ) -> list[str]:  # fmt: skip
    """Issue ``count`` signed unit codes (Digital Link form) at PLANT-1."""
    if session.get(SigningKey, "K1") is None:
        codes.create_key(session=session, store=store, key_id="K1")
    out = io.StringIO()
    signer = codes.load_signer(session=session, store=store)
    codes.generate_codes(session=session, signer=signer, gtin=GTIN, lot="L2611", expiry="271231", count=count,
                         out=out, resolver=resolver, party_id="PLANT-1")  # fmt: skip
    return out.getvalue().split()


def scan(session: Session, step: str, party: str, items: list[str], destination: str | None = None) -> None:
    """Record a step for codes as the brand's operator; every code must be accepted."""
    outcome = record_scans(session=session, principal=Principal(role=Role.admin, party_id=party),
                           request=ScanRequest(biz_step=step, codes=items, party_id=party,
                                               destination_id=destination))  # fmt: skip
    assert not outcome.rejected, outcome.rejected


def at_distributor(session: Session, items: list[str], distributor: str = "D-GZ") -> None:
    """Commissioned at the plant, shipped to and received by a distributor."""
    scan(session, "commissioning", "PLANT-1", items)
    scan(session, "shipping", "PLANT-1", items, destination=distributor)
    scan(session, "receiving", distributor, items)
