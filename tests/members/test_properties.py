"""Property: registering, importing and selling to members in any order never moves a home store once set."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from members.service import import_members, register
from tests.members.helpers import ADMIN, hashed
from tests.settlement.scenario import P1, capture, event, seed, unit
from traceability.auth.service import Principal
from traceability.models import Member, Party, Role
from traceability.privacy import member_pepper

PHONES = ("13800138000", "13900139000", "13700137000")
STORES = ("S-GZ-1", "S-NJ-1")
OPS = ("register_store", "register_admin", "import_store", "import_admin", "sale", "two_sales")
_serials = itertools.count(1)

step = st.tuples(st.sampled_from(OPS), st.integers(0, len(PHONES) - 1), st.sampled_from(STORES),
                 st.sampled_from(STORES), st.integers(1, 28), st.integers(1, 28))  # fmt: skip


def _sale(store: str, day: int, member: str) -> dict:
    return event("retail_selling", [unit(P1, f"H{next(_serials)}")], store, f"2026-04-{day:02d}T10:00:00Z",
                 member=member)  # fmt: skip


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_a_home_store_once_set_never_changes(session: Session, settings, steps) -> None:
    if session.get(Party, "S-GZ-1") is None:
        seed(session)
    pepper = member_pepper(settings.key_dir)
    savepoint = session.begin_nested()
    try:
        expected: dict[str, str] = {}
        for op, who, store, other, day, other_day in steps:
            phone, h = PHONES[who], hashed(PHONES[who], settings.key_dir)
            first = store
            if op == "register_store":
                register(session=session, principal=Principal(role=Role.store, party_id=store), phone_hash=h)
            elif op == "register_admin":
                register(session=session, principal=ADMIN, phone_hash=h, store_id=store)
            elif op == "import_store":
                import_members(session=session, principal=Principal(role=Role.store, party_id=store),
                               data=f"phone\n{phone}\n", pepper=pepper)  # fmt: skip
            elif op == "import_admin":
                import_members(session=session, principal=ADMIN, data=f"phone,store\n{phone},{store}\n", pepper=pepper)
            elif op == "sale":
                capture(session, _sale(store, day, h))
            else:  # two sales of hers in one capture: the earlier decides (the first in the document on a tie)
                capture(session, _sale(store, day, h), _sale(other, other_day, h))
                first = other if other_day < day else store
            expected.setdefault(h, first)
            session.expire_all()
            homes = {m.phone_hash: m.home_store_id for m in session.exec(select(Member))}
            assert homes == expected, (op, steps)
    finally:
        savepoint.rollback()
