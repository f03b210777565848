"""Small factories: a realistic master-data document and rows built from it."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

from sqlmodel import Session

from codes import service as codes
from codes.keyfiles import KeyFileStore
from traceability.auth.service import IssuedKey, create_api_key
from traceability.masterdata.service import import_masterdata
from traceability.models import Role

BASE_DOC: dict[str, Any] = {
    "territories": [
        {"id": "CN", "name": "China"},
        {"id": "CN-44", "name": "广东省 Guangdong", "parent": "CN"},
        {"id": "CN-44-01", "name": "广州市 Guangzhou", "parent": "CN-44"},
        {"id": "CN-44-03", "name": "深圳市 Shenzhen", "parent": "CN-44"},
        {"id": "CN-32", "name": "江苏省 Jiangsu", "parent": "CN"},
        {"id": "CN-32-01", "name": "南京市 Nanjing", "parent": "CN-32"},
    ],
    "parties": [
        {"id": "BRAND", "kind": "brand", "name": "Brand HQ", "gln": "6901234000009", "territory": "CN"},
        {"id": "PLANT-1", "kind": "plant", "name": "Plant 1", "gln": "6901234000016", "territory": "CN-44-01"},
        {"id": "WH-1", "kind": "warehouse", "name": "Central warehouse", "gln": "6901234000023",
         "territory": "CN-44-01", "owner": "BRAND"},
        {"id": "D-GZ", "kind": "distributor", "name": "广州经销商", "gln": "6901234000030", "territory": "CN-44-01",
         "authorized_territories": ["CN-44-01"]},
        {"id": "D-NJ", "kind": "distributor", "name": "南京经销商", "gln": "6901234000054", "territory": "CN-32-01",
         "authorized_territories": ["CN-32"]},
        {"id": "S-GZ-1", "kind": "store", "name": "Store 1", "gln": "6901234000047", "territory": "CN-44-01",
         "supplied_by": ["D-GZ"], "member_store_no": "M-000001", "lat": 23.13, "lon": 113.26},
        {"id": "S-NJ-1", "kind": "store", "name": "Store NJ 1", "gln": "6901234000061", "territory": "CN-32-01",
         "supplied_by": ["D-NJ"], "member_store_no": "M-000002", "lat": 32.06, "lon": 118.80},
        {"id": "AUD", "kind": "auditor", "name": "Audit team", "gln": "6901234000078", "territory": "CN"},
    ],
    "products": [
        {"gtin": "06901234000108", "name": "婴儿配方奶粉 1段 800 g", "unit_price": "268.00", "currency": "CNY",
         "case_gtin": "16901234000105", "units_per_case": 6},
    ],
}  # fmt: skip

GTIN = "06901234000108"
CASE_GTIN = "16901234000105"

ROLE_PARTY = {
    Role.admin: "BRAND",
    Role.plant: "PLANT-1",
    Role.distributor: "D-GZ",
    Role.store: "S-GZ-1",
    Role.auditor: "AUD",
    Role.finance: "BRAND",
}


def masterdata_doc() -> dict[str, Any]:
    return copy.deepcopy(BASE_DOC)


def seed_masterdata(session: Session) -> None:
    import_masterdata(session=session, raw=masterdata_doc())
    session.flush()


def api_key(session: Session, role: Role, party_id: str | None = None) -> IssuedKey:
    return create_api_key(session=session, role=role, party_id=party_id or ROLE_PARTY[role])


def auth(key: IssuedKey) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.token}"}


def signed_codes(session: Session, keys: Path | KeyFileStore, count: int, *, lot: str = "L1",
                 party_id: str = "PLANT-1") -> list[str]:  # fmt: skip
    """``count`` freshly signed unit codes of ``GTIN`` (a new signing key in ``keys``), as their Digital Links."""
    store = keys if isinstance(keys, KeyFileStore) else KeyFileStore(keys)
    codes.create_key(session=session, store=store)
    out = io.StringIO()
    codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=store), gtin=GTIN, lot=lot,
                         expiry="271231", count=count, out=out, party_id=party_id)  # fmt: skip
    return out.getvalue().split()
