"""Shared pieces of the order tests: four stores around 广州 (three member stores, one not), stock, a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from codes.service import key_store
from orders import service
from rebates.policy import OrdersPolicy
from tests.factories import GTIN, masterdata_doc
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.auth.service import Principal
from traceability.masterdata.service import import_masterdata
from traceability.models import Party, Role
from traceability.privacy import member_hash, member_pepper
from traceability.settings import Settings

ADMIN = Principal(role=Role.admin, party_id="BRAND")
GZ1 = Principal(role=Role.store, party_id="S-GZ-1")
GZ2 = Principal(role=Role.store, party_id="S-GZ-2")
GZ3 = Principal(role=Role.store, party_id="S-GZ-3")
PHONE = "13800138000"
PHONE2 = "13900139000"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
POLICY = OrdersPolicy()
HOME = (23.129, 113.259)
"""A delivery address 0.1 km from Store 1, 2.5 km from Store 2, 17 km from Store 3; a non-member shop is closer."""

EXTRA_STORES = [
    {"id": "S-GZ-2", "kind": "store", "name": "Store 2", "gln": "6901234000085", "territory": "CN-44-01",
     "supplied_by": ["D-GZ"], "member_store_no": "M-000003", "lat": 23.14, "lon": 113.28},
    {"id": "S-GZ-3", "kind": "store", "name": "Store 3", "gln": "6901234000092", "territory": "CN-44-01",
     "supplied_by": ["D-GZ"], "member_store_no": "M-000004", "lat": 23.20, "lon": 113.40},
    {"id": "S-GZ-X", "kind": "store", "name": "Not a member store", "gln": "6901234000108", "territory": "CN-44-01",
     "supplied_by": ["D-GZ"], "lat": 23.1291, "lon": 113.2591},
]  # fmt: skip


def seed(session: Session) -> None:
    """The factories' master data and three more stores, once."""
    if session.get(Party, "S-GZ-2") is not None:
        return
    doc = masterdata_doc()
    doc["parties"].extend(EXTRA_STORES)
    import_masterdata(session=session, raw=doc)
    session.flush()


def stock(session: Session, settings: Settings, store: str, count: int) -> list[str]:
    """``count`` signed unit codes shipped by 广州's distributor to ``store`` (which then holds them)."""
    seed(session)
    codes = make_codes(session, key_store(settings), count)
    at_distributor(session, codes, "D-GZ")
    scan(session, "shipping", "D-GZ", codes, destination=store)
    return codes


def hashed(phone: str, key_dir: Path) -> str:
    return member_hash(phone, member_pepper(key_dir))


def place(session: Session, settings: Settings, *, phone: str = PHONE, at: datetime = T0, quantity: int = 1,
          where: tuple[float, float] = HOME, policy: OrdersPolicy = POLICY) -> dict:  # fmt: skip
    seed(session)
    return service.place(session=session, principal=ADMIN, member_hash=hashed(phone, settings.key_dir),
                         lat=where[0], lon=where[1], lines=[(GTIN, quantity)], policy=policy, now=at,
                         address="广州市天河区 1 号")  # fmt: skip


def order_offered_to(session: Session, party_id: str) -> dict[str, str]:
    """An order offered only ever to ``party_id`` (a store; any other party: Store 1), placed at its door."""
    seed(session)
    store = session.get(Party, party_id if party_id.startswith("S-") else "S-GZ-1")
    assert store is not None and store.lat is not None and store.lon is not None
    view = service.place(session=session, principal=ADMIN, member_hash=f"{abs(hash(store.id)):064d}"[:64],
                         lat=store.lat, lon=store.lon, lines=[(GTIN, 1)], policy=POLICY)  # fmt: skip
    assert view["store"] == store.id
    return {"order_id": str(view["id"])}
