"""The till: sell to a member, six then the free unit, undo the same day, receipts, receiving and opening a case."""

from __future__ import annotations

import io
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from codes import service as codes
from codes.service import key_store
from pos import receipts, service
from pos.errors import FreeUnitGiven, NoFreeUnit, NotYourStore, PrinterInvalid, SaleNotFound, TillInvalid, UndoTooLate
from rebates.policy import Policy
from scanning.service import pack
from settlement.service import run_settlement, store_summary
from tests.factories import GTIN
from tests.pos.helpers import ADMIN, GZ, NJ, PHONE, hashed, stocked
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.auth.service import Principal
from traceability.models import Event, Member, PosSale, PrinterMode, Redemption, Role, Sale
from traceability.settings import Settings

POLICY = Policy()


def sell(session: Session, settings: Settings, codes_: list[str], phone: str | None = PHONE, **kw):
    member = hashed(phone, settings.key_dir) if phone else None
    return service.sell(session=session, principal=kw.pop("principal", GZ), codes=codes_, policy=POLICY,
                        member_hash=member, key_files=key_store(settings), **kw)  # fmt: skip


def test_a_sale_to_a_new_member_registers_her_here_and_shows_her_points_at_once(session: Session, settings) -> None:
    [unit] = stocked(session, settings, 1)
    result = sell(session, settings, [unit])
    assert result.sale_id and not result.rejected and len(result.accepted) == 1
    m = result.member
    assert m is not None and m["own"] and m["home_store"] == "S-GZ-1"
    assert (m["points_earned"], m["points"], m["progress"], m["free_available"]) == (1, 1, {"count": 1, "of": 6}, 0)
    member = session.exec(select(Member)).one()
    assert m["id"] == member.id
    assert PHONE not in repr(result.as_dict()) and hashed(PHONE, settings.key_dir) not in repr(result.as_dict())
    pos = session.exec(select(PosSale)).one()
    assert (pos.event_id, pos.kind, pos.units, pos.store_id) == (result.sale_id, "sale", 1, "S-GZ-1")


def test_six_sales_then_the_free_unit_which_earns_nothing_and_is_no_sale_for_fees(session: Session, settings) -> None:
    units = stocked(session, settings, 8)
    for i, unit in enumerate(units[:6]):
        result = sell(session, settings, [unit])
        assert result.member is not None and result.member["progress"]["count"] == i + 1
    assert result.member["free_available"] == 1 and result.member["progress"] == {"count": 6, "of": 6}
    free = sell(session, settings, [units[6]], redeem=True)
    assert free.kind == "free" and free.sale_id and not free.rejected
    m = free.member
    assert m is not None
    assert (m["points_earned"], m["points"], m["free_available"], m["free_redeemed"]) == (0, 6, 0, 1)
    assert m["progress"] == {"count": 0, "of": 6}
    # The free unit left the stock (sold), without the member; its redemption names it.
    sale = session.exec(select(Sale).where(Sale.event_id == free.sale_id)).one()
    assert sale.member_hash is None and sale.counted
    redemption = session.exec(select(Redemption)).one()
    assert redemption.unit_key == sale.unit_key and redemption.store_id == "S-GZ-1"
    # Settlement: six units sold for fees, not seven.
    settled = run_settlement(session=session, period=datetime.now(UTC).strftime("%Y-%m"), policy=POLICY)
    [line] = [s for s in settled.stores if s.party == "S-GZ-1"]
    assert line.units_sold == 6
    # The store's day says the same: six sold, one given away (never both).
    day = store_summary(session=session, principal=Principal(role=Role.store, party_id="S-GZ-1"), policy=POLICY)
    assert (day.today.units_sold, day.today.free_units) == (6, 1)
    # A second free unit is not due: refused, and nothing of it is kept.
    savepoint = session.begin_nested()
    with pytest.raises(NoFreeUnit) as refused:
        sell(session, settings, [units[7]], redeem=True, lang="zh-CN")
    savepoint.rollback()
    assert "暂无可领取的赠品" in refused.value.text("zh-CN") and refused.value.status_code == 409


def test_a_free_unit_needs_a_member_and_one_unit(session: Session, settings) -> None:
    units = stocked(session, settings, 2)
    with pytest.raises(TillInvalid) as no_member:
        sell(session, settings, units[:1], phone=None, redeem=True)
    assert no_member.value.detail["reason"] == "member_required"
    with pytest.raises(TillInvalid) as two:
        sell(session, settings, units, redeem=True)
    assert two.value.detail["reason"] == "one_free_unit"


def test_undo_the_same_day_returns_the_points_exactly_and_is_an_error_declaration(session: Session, settings) -> None:
    units = stocked(session, settings, 3)
    first = sell(session, settings, units[:2])
    assert first.member is not None and first.member["points"] == 2
    undone = service.undo(session=session, principal=GZ, sale_id=first.sale_id or "", policy=POLICY)
    assert undone.undone and not undone.undoable
    assert undone.member is not None and undone.member["points"] == 0 and undone.member["progress"]["count"] == 0
    rows = session.exec(select(Event).where(Event.event_id == first.sale_id)).all()
    assert sorted(bool(e.declaration) for e in rows) == [False, True]  # the event stays; a declaration retracts it
    again = service.undo(session=session, principal=GZ, sale_id=first.sale_id or "", policy=POLICY)
    assert again.undone and len(session.exec(select(Event).where(Event.event_id == first.sale_id)).all()) == 2
    # The units are back in stock: they sell again.
    resold = sell(session, settings, units[:2])
    assert len(resold.accepted) == 2 and resold.member is not None and resold.member["points"] == 2


def test_undo_is_for_today_and_this_store_only(session: Session, settings) -> None:
    units = stocked(session, settings, 1)
    sale = sell(session, settings, units)
    assert sale.sale_id
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(UndoTooLate) as late:
        service.undo(session=session, principal=GZ, sale_id=sale.sale_id, policy=POLICY, now=tomorrow, lang="zh-CN")
    assert "当天" in late.value.text("zh-CN") and late.value.status_code == 409
    with pytest.raises(SaleNotFound):
        service.undo(session=session, principal=NJ, sale_id=sale.sale_id, policy=POLICY)
    with pytest.raises(NotYourStore):
        service.undo(session=session, principal=GZ, sale_id=sale.sale_id, policy=POLICY, store_id="S-NJ-1")
    with pytest.raises(NotYourStore):
        service.get_sale(session=session, principal=Principal(role=Role.finance, party_id="BRAND"),
                         sale_id=sale.sale_id, policy=POLICY)  # fmt: skip
    done = service.undo(session=session, principal=ADMIN, sale_id=sale.sale_id, policy=POLICY, store_id="S-GZ-1")
    assert done.undone


def test_a_sale_a_free_unit_rests_on_is_undone_after_the_free_unit(session: Session, settings) -> None:
    units = stocked(session, settings, 7)
    sales = [sell(session, settings, [u]) for u in units[:6]]
    free = sell(session, settings, [units[6]], redeem=True)
    with pytest.raises(FreeUnitGiven):
        service.undo(session=session, principal=GZ, sale_id=sales[-1].sale_id or "", policy=POLICY)
    back = service.undo(session=session, principal=GZ, sale_id=free.sale_id or "", policy=POLICY)
    assert back.member is not None and back.member["free_available"] == 1 and back.member["free_redeemed"] == 0
    assert session.exec(select(Redemption)).all() == []
    last = service.undo(session=session, principal=GZ, sale_id=sales[-1].sale_id or "", policy=POLICY)
    assert last.member is not None and (last.member["points"], last.member["free_available"]) == (5, 0)


def test_todays_sales_newest_first_with_the_undone_marked(session: Session, settings) -> None:
    units = stocked(session, settings, 2)
    a = sell(session, settings, units[:1])
    b = sell(session, settings, units[1:], phone=None)
    service.undo(session=session, principal=GZ, sale_id=a.sale_id or "", policy=POLICY)
    rows = service.todays_sales(session=session, principal=GZ, policy=POLICY)
    assert [(r.sale_id, r.undone, r.member is None) for r in rows] == [(b.sale_id, False, True),
                                                                       (a.sale_id, True, False)]  # fmt: skip
    assert service.todays_sales(session=session, principal=NJ, policy=POLICY) == []


@pytest.mark.parametrize(("lang", "words"), [("zh-CN", ["购物小票", "积分余额", "买六赠一"]),
                                             ("en", ["Receipt", "Points balance", "Six-get-one"])])  # fmt: skip
def test_receipts_show_the_member_id_never_the_phone(session: Session, settings, lang: str, words: list[str]) -> None:
    units = stocked(session, settings, 1)
    sale = sell(session, settings, units)
    record = service.get_sale(session=session, principal=GZ, sale_id=sale.sale_id or "", policy=POLICY)
    page = receipts.receipt_html(record, lang)
    assert all(w in page for w in words) and "Store 1" in page and "M-000001" in page
    assert f"#{record.member['id']}" in page if record.member else False
    assert "婴儿配方奶粉" in page and record.items[0].serial_tail in page
    assert PHONE not in page and PHONE[-4:] not in page.replace(record.sale_id, "")
    data = receipts.escpos_bytes(record, lang)
    assert data.startswith(b"\x1b") and data.rstrip().endswith(b"\x1dV\x00") or b"\x1dV" in data[-8:]
    assert words[1].encode("gb18030") in data and "婴儿配方奶粉".encode("gb18030") in data
    assert PHONE.encode() not in data


def test_the_printer_is_chosen_per_store_and_a_network_printer_gets_the_bytes(session: Session, settings) -> None:
    units = stocked(session, settings, 1)
    assert service.get_printer(session=session, store=service.till_store(session=session, principal=GZ)).mode == (
        PrinterMode.browser
    )
    got = bytearray()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def accept() -> None:
            conn, _ = server.accept()
            with conn:
                while chunk := conn.recv(65536):
                    got.extend(chunk)

        worker = threading.Thread(target=accept)
        worker.start()
        row = service.set_printer(session=session, principal=GZ, mode=PrinterMode.escpos, host="127.0.0.1", port=port)
        assert (row.mode, row.host, row.port) == ("escpos", "127.0.0.1", port)
        record = service.get_sale(session=session, principal=GZ, sale_id=sell(session, settings, units).sale_id or "",
                                  policy=POLICY)  # fmt: skip
        data = receipts.escpos_bytes(record, "zh-CN")
        assert receipts.send_to_printer(data, host="127.0.0.1", port=port) == len(data)
        worker.join(timeout=5)
    assert bytes(got) == data
    with pytest.raises(PrinterInvalid):
        service.set_printer(session=session, principal=GZ, mode=PrinterMode.escpos, host="bad host!")
    browser = service.set_printer(session=session, principal=GZ, mode=PrinterMode.browser, host="127.0.0.1")
    assert browser.host is None and browser.port is None


def test_receiving_from_a_distributor_that_may_not_supply_the_store_warns_at_once(session: Session, settings) -> None:
    stocked(session, settings, 1)  # master data and a key
    units = make_codes(session, key_store(settings), 2)
    at_distributor(session, units, "D-NJ")
    scan(session, "shipping", "D-NJ", units, destination="S-GZ-1")  # 南京 does not supply Store 1
    outcome = service.receive(session=session, principal=GZ, codes=units, policy=POLICY, lang="zh-CN")
    assert not outcome.rejected and len(outcome.accepted) == 2
    for item in outcome.accepted:
        [warning] = item["warnings"]
        assert warning["kind"] == "unauthorized_channel" and "南京经销商" in warning["message"]
    own = stocked(session, settings, 1, store="S-GZ-1")
    quiet = service.receive(session=session, principal=GZ, codes=own, policy=POLICY)
    assert quiet.accepted[0]["warnings"] == []


def test_a_case_opened_at_the_store_sells_unit_by_unit(session: Session, settings) -> None:
    stocked(session, settings, 1)
    out = io.StringIO()
    codes.generate_codes(session=session, signer=codes.load_signer(session=session, store=key_store(settings)),
                         gtin=GTIN, lot="L2", expiry="271231", count=6, out=out, party_id="PLANT-1")  # fmt: skip
    units = out.getvalue().split()
    scan(session, "commissioning", "PLANT-1", units)
    case = codes.allocate_ssccs(session=session, company_prefix="6901234", count=1, party_id="PLANT-1")[0]
    assert case.sscc is not None
    pack(session=session, principal=Principal(role=Role.plant, party_id="PLANT-1"), parent=case.sscc, children=units)
    scan(session, "shipping", "PLANT-1", [case.sscc], destination="D-GZ")
    scan(session, "receiving", "D-GZ", [case.sscc])
    scan(session, "shipping", "D-GZ", [case.sscc], destination="S-GZ-1")
    received = service.receive(session=session, principal=GZ, codes=[case.sscc], policy=POLICY)
    assert received.accepted[0]["units"] == 6
    opened = service.open_case(session=session, principal=GZ, code=case.sscc)
    assert len(opened.accepted) == 6 and opened.event_id
    one = sell(session, settings, units[:1])
    assert len(one.accepted) == 1 and one.member is not None and one.member["points"] == 1
