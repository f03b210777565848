"""Shared pieces of the member tests: principals, phones and their hashes."""

from __future__ import annotations

from pathlib import Path

from traceability.auth.service import Principal
from traceability.models import Role
from traceability.privacy import member_hash, member_pepper

GZ = Principal(role=Role.store, party_id="S-GZ-1")
NJ = Principal(role=Role.store, party_id="S-NJ-1")
ADMIN = Principal(role=Role.admin, party_id="BRAND")
AUDITOR = Principal(role=Role.auditor, party_id="AUD")
DISTRIBUTOR = Principal(role=Role.distributor, party_id="D-GZ")
PHONE = "+86 138 0013 8000"
PHONE2 = "13900139000"


def hashed(phone: str, key_dir: Path) -> str:
    return member_hash(phone, member_pepper(key_dir))
