"""Real concurrency on a committing database: the store accepting, the worker lapsing and the call centre
reassigning the same order at the same instant are decided one after the other, never two at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from orders import service
from orders.errors import OrderConflict
from tests.orders.helpers import ADMIN, GZ1, HOUR, POLICY, T0, place
from traceability.database import session_scope
from traceability.models import Order, OrderOffer


def _race(engine: Engine, actions: list[Callable[[Session], object]]) -> list[BaseException]:
    """Run each action in its own thread and transaction, all released at once; the unexpected failures."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[Session], object]) -> None:
        barrier.wait()
        try:
            with session_scope(engine) as s:
                action(s)
        except OrderConflict:
            pass  # the loser of the race is told, in words
        except BaseException as exc:  # noqa: BLE001 - any other failure is reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def _round(engine: Engine, settings) -> None:
    with session_scope(engine) as s:
        order_id = place(s, settings)["id"]
    errors = _race(engine, [
        lambda s: service.accept(session=s, principal=GZ1, order_id=order_id, policy=POLICY,
                                 now=T0 + HOUR - timedelta(seconds=1)),
        lambda s: service.lapse_due(session=s, now=T0 + HOUR + timedelta(seconds=1), policy=POLICY),
        lambda s: service.reassign(session=s, principal=ADMIN, order_id=order_id, policy=POLICY, store_id="S-GZ-3",
                                   now=T0 + HOUR),
    ])  # fmt: skip
    assert errors == []
    with Session(engine) as s:
        order = s.get(Order, order_id)
        assert order is not None
        offers = s.exec(select(OrderOffer).where(OrderOffer.order_id == order_id).order_by(col(OrderOffer.id)))
        live = [o for o in offers if o.outcome in ("open", "accepted")]
        assert len(live) == 1 and live[0].store_id == order.store_id
        assert order.status in ("offered", "accepted")
        assert (live[0].outcome == "accepted") == (order.status == "accepted")


def test_accept_lapse_and_reassign_race_one_winner_at_a_time(committing_engine: Engine, settings) -> None:
    for _ in range(6):
        _round(committing_engine, settings)
