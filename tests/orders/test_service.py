"""Scenarios of the O2O orders with a controllable clock: where an order goes, the one-hour rule, decline, stock,
and delivery as the store's sale in settlement."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from members import service as members
from orders import service
from orders.errors import DeliveryRefused, OrderConflict, OrderInvalid, OrderNotFound
from rebates.policy import OrdersPolicy, Policy
from scanning.service import ScanRequest, record_scans
from settlement.service import run_settlement
from tests.factories import GTIN
from tests.members.helpers import hashed as member_hashed
from tests.orders.helpers import ADMIN, GZ1, GZ2, GZ3, HOUR, PHONE, POLICY, T0, hashed, place, seed, stock
from traceability.auth.service import Principal
from traceability.models import Event, OrderNotice, OrderOffer, Role, Sale


def _register(session: Session, settings, store: str, phone: str = PHONE) -> None:
    members.register(session=session, principal=ADMIN, phone_hash=member_hashed(phone, settings.key_dir),
                     store_id=store)  # fmt: skip


def test_an_old_customers_order_goes_to_her_store(session: Session, settings) -> None:
    seed(session)
    _register(session, settings, "S-GZ-3")
    view = place(session, settings)
    assert (view["status"], view["store"], view["reason"]) == ("offered", "S-GZ-3", "home_store")
    assert view["deadline"] == (T0 + HOUR).isoformat()
    assert [s["status"] for s in view["history"]] == ["placed", "offered"]
    assert view["history"][1]["message"] == "the member's home store"


def test_a_new_customers_order_goes_to_the_nearest_member_store(session: Session, settings) -> None:
    view = place(session, settings)
    # S-GZ-X is nearer still, but holds no member-store number: never offered an order.
    assert (view["store"], view["reason"]) == ("S-GZ-1", "nearest")
    assert view["distance_km"] is not None and view["distance_km"] < 0.5
    assert view["member"] is None


def test_her_home_store_declined_goes_to_the_nearest_not_tried(session: Session, settings) -> None:
    seed(session)
    _register(session, settings, "S-GZ-3")
    view = place(session, settings)
    after = service.decline(session=session, principal=GZ3, order_id=view["id"], policy=POLICY, now=T0 + HOUR / 4)
    assert after["status"] == "taken_back" and after["store"] is None and after["address"] is None
    full = service.get_order(session=session, principal=ADMIN, order_id=view["id"])
    assert (full["store"], full["reason"]) == ("S-GZ-1", "nearest")
    assert [s["status"] for s in full["history"]] == ["placed", "offered", "declined", "offered"]


def test_no_answer_within_the_hour_goes_to_the_next_nearest_and_the_first_store_is_told(
    session: Session, settings
) -> None:
    view = place(session, settings)
    order_id = view["id"]
    assert service.lapse_due(session=session, now=T0 + HOUR - HOUR / 60, policy=POLICY).lapsed == []
    # At the deadline the offer stands no more: too late to accept, even before the worker has acted.
    with pytest.raises(OrderConflict) as late:
        service.accept(session=session, principal=GZ1, order_id=order_id, policy=POLICY, now=T0 + HOUR)
    assert late.value.detail["reason"] == "offer_lapsed"
    report = service.lapse_due(session=session, now=T0 + HOUR + HOUR / 60, policy=POLICY)
    assert report.lapsed == [{"order": order_id, "store": "S-GZ-1", "deadline": (T0 + HOUR).isoformat(),
                              "next_store": "S-GZ-2"}]  # fmt: skip
    full = service.get_order(session=session, principal=ADMIN, order_id=order_id)
    assert (full["status"], full["store"]) == ("offered", "S-GZ-2")
    assert full["deadline"] == (T0 + 2 * HOUR + HOUR / 60).isoformat()
    lapsed = [s for s in full["history"] if s["status"] == "lapsed"]
    assert lapsed == [{**lapsed[0], "store": "S-GZ-1", "at": (T0 + HOUR).isoformat(), "by": "worker"}]
    # The first store is told, and sees the order as taken back; a second pass does nothing more.
    [notice] = service.list_notices(session=session, principal=GZ1, lang="zh-CN")
    assert notice["kind"] == "taken_back" and notice["order"] == order_id and "改派" in notice["message"]
    assert service.list_notices(session=session, principal=GZ2) == []
    mine = service.get_order(session=session, principal=GZ1, order_id=order_id)
    assert mine["status"] == "taken_back" and {s["store"] for s in mine["history"]} == {"S-GZ-1"}
    assert service.lapse_due(session=session, now=T0 + HOUR + HOUR / 60, policy=POLICY).lapsed == []
    assert len(session.exec(select(OrderOffer).where(OrderOffer.order_id == order_id)).all()) == 2
    # A store never offered it does not see it.
    with pytest.raises(OrderNotFound):
        service.get_order(session=session, principal=GZ3, order_id=order_id)


def test_when_every_store_let_it_lapse_the_call_centre_decides(session: Session, settings) -> None:
    view = place(session, settings, policy=OrdersPolicy(max_offers=2))
    for hour in (1, 2):
        service.lapse_due(session=session, now=T0 + hour * HOUR, policy=OrdersPolicy(max_offers=2))
    full = service.get_order(session=session, principal=ADMIN, order_id=view["id"])
    assert (full["status"], full["store"]) == ("unrouted", None)
    assert full["history"][-1]["reason"] == "no_store"
    moved = service.reassign(session=session, principal=ADMIN, order_id=view["id"], policy=POLICY, store_id="S-GZ-3",
                             now=T0 + 3 * HOUR)  # fmt: skip
    assert (moved["status"], moved["store"], moved["reason"]) == ("offered", "S-GZ-3", "reassigned")
    report = service.lapse_report(session=session, principal=ADMIN)
    assert [(r["store"], r["lapsed"]) for r in report][:2] == [("S-GZ-1", 1), ("S-GZ-2", 1)]
    assert report[0]["lapse_rate"] == "1.000"


def test_stock_aware_routing_skips_a_store_with_none(session: Session, settings) -> None:
    stock(session, settings, "S-GZ-2", 2)
    aware = OrdersPolicy(stock_aware=True)
    view = place(session, settings, quantity=2, policy=aware)
    assert (view["store"], view["reason"]) == ("S-GZ-2", "nearest_with_stock")
    # Asking for more than any store holds: nobody to offer it to.
    more = place(session, settings, phone="13700137000", quantity=3, policy=aware)
    assert more["status"] == "unrouted"


def test_the_delivered_units_are_the_stores_sale_in_settlement(session: Session, settings) -> None:
    units = stock(session, settings, "S-GZ-2", 3)
    elsewhere = stock(session, settings, "S-GZ-1", 1)
    view = place(session, settings, quantity=2, where=(23.14, 113.28))
    assert view["store"] == "S-GZ-2"
    order_id = view["id"]
    with pytest.raises(OrderConflict) as early:
        service.deliver(session=session, principal=GZ2, order_id=order_id, codes=units[:2], policy=POLICY,
                        now=T0 + HOUR / 6)  # fmt: skip
    assert early.value.detail["reason"] == "not_accepted"
    service.accept(session=session, principal=GZ2, order_id=order_id, policy=POLICY, now=T0 + HOUR / 6)
    with pytest.raises(OrderNotFound):  # never offered to Store 1: not even seen there
        service.accept(session=session, principal=GZ1, order_id=order_id, policy=POLICY, now=T0 + HOUR / 6)
    with pytest.raises(OrderConflict) as twice:  # accepted once, by one store, even when the brand asks
        service.accept(session=session, principal=ADMIN, order_id=order_id, policy=POLICY, store_id="S-GZ-1",
                       now=T0 + HOUR / 6)  # fmt: skip
    assert twice.value.detail["reason"] == "not_offered"
    service.out_for_delivery(session=session, principal=GZ2, order_id=order_id, policy=POLICY, now=T0 + HOUR / 3)
    # A unit another store holds, a wrong count: refused whole, every reason named, nothing recorded.
    savepoint = session.begin_nested()
    with pytest.raises(DeliveryRefused) as refused:
        service.deliver(session=session, principal=GZ2, order_id=order_id, codes=[units[0], elsewhere[0]],
                        policy=POLICY, key_files=None, lang="zh-CN", now=T0 + HOUR / 2)  # fmt: skip
    savepoint.rollback()
    reasons = [r["reason"] for r in refused.value.rejected]
    assert reasons == ["not_holder", "quantity_mismatch"]
    assert "库存" in refused.value.rejected[0]["message"]
    done = service.deliver(session=session, principal=GZ2, order_id=order_id, codes=units[:2], policy=POLICY,
                           now=T0 + HOUR / 2)  # fmt: skip
    assert done["status"] == "delivered"
    event_id = done["history"][-1]["event_id"]
    event = session.exec(select(Event).where(Event.event_id == event_id)).one()
    doc = json.loads(event.document)
    assert doc["bizTransactionList"] == [{"type": "urn:epcglobal:cbv:btt:po",
                                          "bizTransaction": f"urn:trc:order:{order_id}"}]  # fmt: skip
    assert event.location_party_id == "S-GZ-2" and event.biz_step == "retail_selling"
    sales = session.exec(select(Sale).where(Sale.event_id == event_id)).all()
    assert len(sales) == 2 and {s.store_id for s in sales} == {"S-GZ-2"}
    assert {s.member_hash for s in sales} == {hashed(PHONE, settings.key_dir)}  # her points, as at the counter
    settled = run_settlement(session=session, period=T0.strftime("%Y-%m"), policy=Policy())
    [line] = [s for s in settled.stores if s.party == "S-GZ-2"]
    assert line.units_sold == 2
    with pytest.raises(OrderConflict):
        service.cancel(session=session, principal=ADMIN, order_id=order_id, policy=POLICY)


def test_a_cancelled_order_tells_its_store_and_takes_no_answer(session: Session, settings) -> None:
    view = place(session, settings)
    service.cancel(session=session, principal=ADMIN, order_id=view["id"], policy=POLICY, now=T0 + HOUR / 6)
    assert [n["kind"] for n in service.list_notices(session=session, principal=GZ1)] == ["cancelled"]
    with pytest.raises(OrderConflict):
        service.accept(session=session, principal=GZ1, order_id=view["id"], policy=POLICY, now=T0 + HOUR / 5)
    assert service.lapse_due(session=session, now=T0 + 2 * HOUR, policy=POLICY).lapsed == []
    assert session.exec(select(OrderNotice)).all()[0].store_id == "S-GZ-1"


def test_bad_orders_are_refused_in_words(session: Session, settings) -> None:
    seed(session)
    with pytest.raises(OrderInvalid) as unknown:
        service.place(session=session, principal=ADMIN, member_hash="a" * 64, lat=23.1, lon=113.2,
                      lines=[("06901234000115", 1)], policy=POLICY, lang="zh-CN")  # fmt: skip
    assert unknown.value.detail["reason"] == "unknown_gtin" and "主数据" in unknown.value.text("zh-CN")
    with pytest.raises(OrderInvalid) as twice:
        service.place(session=session, principal=ADMIN, member_hash="a" * 64, lat=23.1, lon=113.2,
                      lines=[(GTIN, 1), (GTIN, 2)], policy=POLICY)  # fmt: skip
    assert twice.value.detail["reason"] == "duplicate_gtin"
    with pytest.raises(OrderInvalid):
        service.place(session=session, principal=ADMIN, member_hash="a" * 64, lat=91, lon=0, lines=[(GTIN, 1)],
                      policy=POLICY)  # fmt: skip


def test_a_member_whose_home_is_no_member_store_goes_to_where_she_last_bought(session: Session, settings) -> None:
    units = stock(session, settings, "S-GZ-3", 1)
    _register(session, settings, "S-GZ-X")  # a shop without a member-store number registered her
    sold = record_scans(session=session, principal=Principal(role=Role.store, party_id="S-GZ-3"),
                        request=ScanRequest(biz_step="retail_selling", codes=units, party_id="S-GZ-3",
                                            member_hash=hashed(PHONE, settings.key_dir)))  # fmt: skip
    assert not sold.rejected
    view = place(session, settings)
    assert (view["store"], view["reason"]) == ("S-GZ-3", "last_store")
