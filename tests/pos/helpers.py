"""A store with stock: signed units commissioned at the plant, through 广州's distributor, shipped to Store 1."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from codes.service import key_store
from tests.factories import seed_masterdata
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.auth.service import Principal
from traceability.models import Party, Role
from traceability.privacy import member_hash, member_pepper
from traceability.settings import Settings

GZ = Principal(role=Role.store, party_id="S-GZ-1")
NJ = Principal(role=Role.store, party_id="S-NJ-1")
ADMIN = Principal(role=Role.admin, party_id="BRAND")
PHONE = "13800138000"
PHONE2 = "13900139000"


def stocked(session: Session, settings: Settings, count: int, store: str = "S-GZ-1") -> list[str]:
    """``count`` signed unit codes held by ``store`` (shipped to it by its distributor); master data seeded once."""
    if session.get(Party, "BRAND") is None:
        seed_masterdata(session)
    codes = make_codes(session, key_store(settings), count)
    distributor = "D-GZ" if store == "S-GZ-1" else "D-NJ"
    at_distributor(session, codes, distributor)
    scan(session, "shipping", distributor, codes, destination=store)
    return codes


def hashed(phone: str, key_dir: Path) -> str:
    return member_hash(phone, member_pepper(key_dir))
