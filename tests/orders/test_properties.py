"""Property (a hypothesis state machine): whatever the stores, the call centre and the clock do, in whatever order,
an order is never offered to two stores at once, never accepted by two, and never delivered without an acceptance
by the store that delivers it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlmodel import Session, col, select

from orders import service
from orders.errors import DeliveryRefused, OrderConflict, OrderInvalid, OrderNotFound
from tests.orders.helpers import ADMIN, HOME, POLICY, T0, place, stock
from traceability.errors import TraceabilityError
from traceability.models import Order, OrderOffer, OrderStep

STORES = ["S-GZ-1", "S-GZ-2", "S-GZ-3", "S-NJ-1"]
PHONES = ["13800138000", "13900139000", "13700137000"]


@pytest.fixture
def stock_by_store(session: Session, settings) -> dict[str, list[str]]:
    return {store: stock(session, settings, store, 3) for store in STORES[:3]}


def test_one_store_at_a_time_one_acceptance_no_delivery_without_it(session: Session, settings, stock_by_store) -> None:
    class Orders(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.savepoint = session.begin_nested()
            self.now = T0
            self.orders: list[int] = []
            self.used: set[str] = set()

        def teardown(self) -> None:
            self.savepoint.rollback()

        def _try(self, action) -> bool:
            """Run one step in a savepoint of its own: a refused step leaves nothing behind."""
            step = session.begin_nested()
            try:
                action()
            except (OrderConflict, OrderNotFound, OrderInvalid, DeliveryRefused):
                step.rollback()
                return False
            except TraceabilityError as exc:  # any other refusal is a bug in the model of the rules
                step.rollback()
                raise AssertionError(f"unexpected refusal: {exc.message}") from exc
            step.commit()
            return True

        def _store(self, order: Order, store: str | None) -> str:
            """The store named, or (None) the one the order is at now: most steps should be the plausible ones."""
            return store or order.store_id or STORES[0]

        def _id(self, i: int) -> int:
            return self.orders[i % len(self.orders)]

        def _order(self, i: int) -> Order:
            order = session.get(Order, self.orders[i % len(self.orders)], populate_existing=True)
            assert order is not None
            return order

        @precondition(lambda self: len(self.orders) < 3)
        @rule(phone=st.sampled_from(PHONES), north=st.floats(-0.05, 0.12))
        def place(self, phone: str, north: float) -> None:
            view = place(session, settings, phone=phone, at=self.now, where=(HOME[0] + north, HOME[1] + north))
            self.orders.append(view["id"])

        @rule(minutes=st.integers(0, 90), worker=st.booleans())
        def time_passes(self, minutes: int, worker: bool) -> None:
            """The clock moves; the worker may or may not have run since (it is a separate process)."""
            self.now += timedelta(minutes=minutes)
            if worker:
                service.lapse_due(session=session, now=self.now, policy=POLICY)

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 2), store=st.one_of(st.none(), st.sampled_from(STORES)))
        def accept(self, i: int, store: str | None) -> None:
            order = self._order(i)
            store = self._store(order, store)
            before = (order.status, order.store_id, order.deadline)
            ok = self._try(lambda: service.accept(session=session, principal=ADMIN, order_id=self._id(i),
                                                  policy=POLICY, store_id=store, now=self.now))  # fmt: skip
            if ok and before[0] == "offered":
                # Accepted only by the store it was offered to, before its deadline.
                assert before[1] == store and before[2] is not None and self.now < before[2]

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 2), store=st.one_of(st.none(), st.sampled_from(STORES)))
        def decline(self, i: int, store: str | None) -> None:
            order = self._order(i)
            store = self._store(order, store)
            self._try(lambda: service.decline(session=session, principal=ADMIN, order_id=self._id(i), policy=POLICY,
                                              store_id=store, now=self.now))  # fmt: skip

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 2), store=st.one_of(st.none(), st.sampled_from(STORES)))
        def set_out(self, i: int, store: str | None) -> None:
            order = self._order(i)
            store = self._store(order, store)
            self._try(lambda: service.out_for_delivery(session=session, principal=ADMIN, order_id=self._id(i),
                                                       policy=POLICY, store_id=store, now=self.now))  # fmt: skip

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 2), store=st.one_of(st.none(), st.sampled_from(STORES[:3])))
        def deliver(self, i: int, store: str | None) -> None:
            order = self._order(i)
            store = self._store(order, store)
            if store not in stock_by_store:
                return
            before = (order.status, order.store_id)
            unit = next((c for c in stock_by_store[store] if c not in self.used), None)
            if unit is None:
                return
            ok = self._try(lambda: service.deliver(session=session, principal=ADMIN, order_id=self._id(i),
                                                   codes=[unit], policy=POLICY, store_id=store,
                                                   now=self.now))  # fmt: skip
            if ok:
                self.used.add(unit)
                assert before in (("accepted", store), ("out_for_delivery", store))

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 2), store=st.one_of(st.none(), st.sampled_from(STORES)), now=st.integers(0, 2))
        def reassign(self, i: int, store: str | None, now: int) -> None:
            if now:  # the call centre steps in rarely
                return

            self._try(lambda: service.reassign(session=session, principal=ADMIN, order_id=self._id(i), policy=POLICY,
                                               store_id=store, now=self.now))  # fmt: skip

        @precondition(lambda self: self.orders)
        @rule(i=st.integers(0, 2), now=st.integers(0, 4))
        def cancel(self, i: int, now: int) -> None:
            if now:
                return

            self._try(lambda: service.cancel(session=session, principal=ADMIN, order_id=self._id(i), policy=POLICY,
                                             now=self.now))  # fmt: skip

        @invariant()
        def one_store_one_acceptance(self) -> None:
            for order_id in self.orders:
                order = session.get(Order, order_id, populate_existing=True)
                assert order is not None
                offers = session.exec(select(OrderOffer).where(OrderOffer.order_id == order_id)).all()
                open_ = [o for o in offers if o.outcome == "open"]
                taken = [o for o in offers if o.outcome in ("accepted", "delivered")]
                assert len(open_) <= 1 and len(taken) <= 1
                assert not (open_ and taken)
                if order.status == "offered":
                    assert [o.store_id for o in open_] == [order.store_id]
                    assert open_[0].deadline == order.deadline
                else:
                    assert open_ == []
                if order.status in ("accepted", "out_for_delivery", "delivered"):
                    assert [o.store_id for o in taken] == [order.store_id]
                    assert taken[0].outcome == ("delivered" if order.status == "delivered" else "accepted")

        @invariant()
        def delivered_only_after_acceptance(self) -> None:
            for order_id in self.orders:
                steps = session.exec(
                    select(OrderStep).where(OrderStep.order_id == order_id).order_by(col(OrderStep.seq))
                ).all()
                for k, s in enumerate(steps):
                    if s.status != "delivered":
                        continue
                    # The steps before it, back to the store's acceptance: none gives the order to anyone else.
                    back = [p for p in steps[:k] if p.status in ("accepted", "offered", "withdrawn", "lapsed")]
                    assert back and back[-1].status == "accepted" and back[-1].store_id == s.store_id
                    assert steps[k + 1 :] == []  # delivered is the end

    run_state_machine_as_test(
        Orders,
        settings=hsettings(max_examples=60, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]),
    )  # fmt: skip
