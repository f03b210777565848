"""The demo's member side after the sales: O2O orders delivered by member stores, and the clerks' call list.

Orders go through the services the call-centre page and the tills use (``orders.service``): a member's order is
offered to her home store; a new customer's to the nearest member store; a store without the unit declines it
and it goes on to the next; one offer is left unanswered, lapses (as the worker would lapse it an hour later) and
is offered to the next store. Each delivery is scanned at the door, so it is the delivering store's sale. Then
the clerks' tasks for the day after the second month are generated as the worker's morning job would.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import Session

from crm.tasks import generate_tasks
from demo.simulate import Month, Simulator
from orders import service as orders
from rebates.policy import Policy
from traceability.auth.service import Principal
from traceability.models import OrderStatus, Role
from traceability.privacy import member_hash

__all__ = ["CareStats", "member_care"]

_GTIN = re.compile(r"/01/(\d{14})/")
CALL_CENTRE = Principal(role=Role.admin, party_id="BRAND")


@dataclass
class CareStats:
    orders_by_status: dict[str, int] = field(default_factory=dict)
    offers_lapsed: int = 0
    offers_declined: int = 0
    tasks: int = 0
    task_day: str = ""


def _gtin(code: str) -> str:
    found = _GTIN.search(code)
    assert found is not None, code
    return found.group(1)


def _serve(sim: Simulator, session: Session, order_id: int, gtin: str, when: datetime, policy: Policy,
           stats: CareStats) -> None:  # fmt: skip
    """The stores an order is offered to answer it in turn: decline without the unit, else accept and deliver."""
    for _ in range(policy.orders.max_offers):
        view = orders.get_order(session=session, principal=CALL_CENTRE, order_id=order_id)
        store = view["store"]
        if view["status"] != OrderStatus.offered or store is None:
            return
        clerk = Principal(role=Role.store, party_id=store)
        shelf = [u for u in sim.shelf.get(store, []) if _gtin(u) == gtin]
        when += timedelta(minutes=7)
        if not shelf:
            orders.decline(session=session, principal=clerk, order_id=order_id, policy=policy.orders,
                           note="缺货", now=when)  # fmt: skip
            stats.offers_declined += 1
            continue
        orders.accept(session=session, principal=clerk, order_id=order_id, policy=policy.orders, now=when)
        orders.out_for_delivery(session=session, principal=clerk, order_id=order_id, policy=policy.orders,
                                now=when + timedelta(minutes=5))  # fmt: skip
        orders.deliver(session=session, principal=clerk, order_id=order_id, codes=shelf[:1],
                       policy=policy.orders, now=when + timedelta(minutes=40), company_prefix_length=sim.cpl,
                       key_files=sim.store)  # fmt: skip
        sim.shelf[store].remove(shelf[0])
        return


def member_care(*, sim: Simulator, session: Session, month: Month, policy: Policy, orders_wanted: int = 6) -> CareStats:
    """O2O orders on the month's 28th, then the clerks' tasks for the day after the month."""
    stats = CareStats()
    stocked = sorted(s for s, shelf in sim.shelf.items() if shelf)
    picks = sim.rng.sample(stocked, min(orders_wanted, len(stocked)))
    placed: list[int] = []
    for k, store in enumerate(picks):
        when = month.at(28, 9 + k % 8, 10 * (k % 6))
        party = sim.parties[store]
        assert party.lat is not None
        assert party.lon is not None
        unit = sim.shelf[store][0]
        if k == 0:
            # A member of another store orders to an address beside this one: her home store gets the offer, lets
            # it lapse, and the worker offers it on to the store nearest the address, which has the unit.
            homes = sorted(h for h, pool in sim.members.items() if pool and h != store)
            known = sim.members[sim.rng.choice(homes)] if homes else None
        else:
            known = sim.members.get(store) if k % 3 != 2 else None  # every third: a phone never seen (the nearest)
        who = sim.rng.choice(known) if known else member_hash(f"17{sim.rng.randrange(10**9):09d}", sim.pepper)
        view = orders.place(session=session, principal=CALL_CENTRE, member_hash=who, lat=party.lat + 0.004,
                            lon=party.lon - 0.003, lines=[(_gtin(unit), 1)], policy=policy.orders,
                            channel="web" if k % 2 else "call_centre", address=f"{party.name}附近 {k + 1} 号",
                            now=when)  # fmt: skip
        order_id = int(view["id"])
        placed.append(order_id)
        if k == 0:  # nobody answers the first offer: an hour later the worker takes it back and offers it on
            report = orders.lapse_due(session=session, now=when + timedelta(minutes=policy.orders.offer_minutes + 1),
                                      policy=policy.orders)  # fmt: skip
            stats.offers_lapsed += len(report.lapsed)
            when += timedelta(minutes=policy.orders.offer_minutes + 1)
        _serve(sim, session, order_id, _gtin(unit), when, policy, stats)
    statuses = Counter(
        str(orders.get_order(session=session, principal=CALL_CENTRE, order_id=i)["status"]) for i in placed
    )
    stats.orders_by_status = dict(sorted(statuses.items()))
    day: date = (month.at(28) + timedelta(days=4)).date()
    stats.tasks = generate_tasks(session=session, day=day, policy=policy)
    stats.task_day = day.isoformat()
    return stats
