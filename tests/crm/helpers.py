"""Shared pieces of the CRM scenarios: a small network, members, and sales captured the repository way."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import Session, select

from members.service import register
from tests.members.helpers import ADMIN
from tests.settlement.scenario import P1, capture, event, seed, unit
from traceability.privacy import member_hash, member_pepper

__all__ = ["ADMIN", "P1", "Shop", "seed"]

_serial = itertools.count(1)
JOINED = datetime(2025, 12, 1, tzinfo=UTC)


class Shop:
    """Members by name, and purchases of new units at a store on a given day (10:00 UTC)."""

    def __init__(self, session: Session, key_dir: Path) -> None:
        self.session = session
        self.pepper = member_pepper(key_dir)
        self.hashes: dict[str, str] = {}
        self.ids: dict[str, int] = {}

    def member(self, name: str, store: str = "S-GZ-1", source: str | None = None,
               joined: datetime = JOINED) -> int:  # fmt: skip
        h = member_hash(f"1380000{len(self.hashes):04d}", self.pepper)
        done = register(session=self.session, principal=ADMIN, phone_hash=h, store_id=store, name=name, source=source,
                        now=joined)  # fmt: skip
        assert done.member.id is not None
        self.hashes[name], self.ids[name] = h, done.member.id
        return done.member.id

    def buy(self, name: str, day: date, n: int = 1, *, store: str = "S-GZ-1", gtin: str = P1,
            hour: str = "10:00:00Z") -> None:  # fmt: skip
        epcs = [unit(gtin, f"C{next(_serial)}") for _ in range(n)]
        when = f"{day.isoformat()}T{hour}"
        capture(self.session, event("retail_selling", epcs, store, when, member=self.hashes[name]))


def task_of(session: Session, party_id: str) -> dict[str, str]:
    """A task of a member of ``party_id`` (the authorisation matrix's owned object)."""
    from traceability.models import Member, Task

    h = hashlib.sha256(f"authz:{party_id}".encode()).hexdigest()
    member = session.exec(select(Member).where(Member.phone_hash == h)).first()
    if member is None:
        member = Member(phone_hash=h, home_store_id=party_id, source="test")
        session.add(member)
        session.flush()
    assert member.id is not None
    task = session.exec(select(Task).where(Task.member_id == member.id)).first()
    if task is None:
        task = Task(member_id=member.id, store_id=party_id, kind="follow_up", opens=date(2026, 4, 4),
                    due=date(2026, 4, 6), reason="first_purchase", basis=date(2026, 4, 1), units=1)  # fmt: skip
        session.add(task)
        session.flush()
    return {"task_id": str(task.id)}
