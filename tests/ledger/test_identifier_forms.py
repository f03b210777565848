"""One unit, many spellings: GS1 punctuation in serials must not split or merge units anywhere.

Codes of another serialization system are commissioned at a brand-owned place and then travel through the channel;
every time an event names a unit it may spell it as an EPC URN (TDS 2.x: ``"%&/<>?`` escaped as ``%22 %25 %26 %2F
%3C %3E %3F``) or as a GS1 Digital Link on any host, with any valid percent-encoding (any character may be encoded,
hex digits in either case; ``"%/<>?`` must be). All of them name the same GTIN + serial, so:

- the planted diversion and counterfeit, and nothing else, are alerted, whatever the arrival order and split;
- a full re-evaluation (``traceability alerts reevaluate``) changes nothing;
- settlement facts see each unit once: one counted purchase per unit the brand shipped, one counted sale per unit
  sold, and the sale and the purchase of a unit under one key.

The expected alerts come from the plan and the master data below (``docs/diversion.md``), never from the system,
and alerts are matched on the identity decoded here from the EPC they carry, not on the project's key spelling.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from sqlmodel import Session, select

from flow_graph.service import AlertFilter, list_alerts, reevaluate
from scanning.epcis import capture_document
from tests.flow_graph.scenario import scenario_examples
from traceability.masterdata.service import import_masterdata
from traceability.models import Code, Purchase, Sale

# --- GS1 identifiers, written and read by the standards (independently of the project's code) -------------------------

CS82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
"""GS1 AI encodable character set 82: what an AI 21 serial may hold."""
assert len(CS82) == 82
PUNCTUATION = "';=%/&\"?"
"""The characters that escaping rules treat differently: drawn often so that every example exercises them."""
URN_ESCAPED = frozenset('"%&/<>?')
"""TDS 2.x: characters of CS82 an EPC URN writes as %XX."""
DL_MUST_ENCODE = frozenset('"%/<>?')
"""Characters of CS82 that are not RFC 3986 pchar: a Digital Link path segment can only carry them percent-encoded."""
HOSTS = ("https://id.gs1.org", "https://example.com", "http://example.com", "https://brand.example.com/dl")
"""A Digital Link may name any resolver, with a path prefix of its own before the primary key."""

COMPANY_PREFIX = "6901234"
GTIN = "06901234000108"
ITEM_REFERENCE = "000010"  # indicator digit, then the item reference: the URN's second field


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit of the digits before it."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str(-total % 10)


assert check_digit(GTIN[:-1]) == GTIN[-1]


def sgtin_urn(serial: str) -> str:
    return f"urn:epc:id:sgtin:{COMPANY_PREFIX}.{ITEM_REFERENCE}." + "".join(
        f"%{ord(c):02X}" if c in URN_ESCAPED else c for c in serial
    )


@st.composite
def digital_links(draw: st.DrawFn, serial: str) -> str:
    """A GS1 Digital Link of the unit: a drawn host, each character literal or percent-encoded (either hex case)."""
    host = draw(st.sampled_from(HOSTS))
    out = []
    for c in serial:
        if c in DL_MUST_ENCODE or draw(st.booleans()):
            code = f"{ord(c):02X}"
            out.append("%" + (code.lower() if draw(st.booleans()) else code))
        else:
            out.append(c)
    return f"{host}/01/{GTIN}/21/{''.join(out)}"


def spellings(serial: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(sgtin_urn(serial)), digital_links(serial))


_URN_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def identity(epc: str) -> tuple[str, str]:
    """(GTIN, serial) of an SGTIN EPC URN or GS1 Digital Link, decoded by TDS 2.x / RFC 3986 alone."""
    if epc[:17].lower() == "urn:epc:id:sgtin:":
        company, reference, escaped = epc[17:].split(".", 2)
        body = reference[0] + company + reference[1:]
        return body + check_digit(body), _URN_ESCAPE.sub(lambda m: chr(int(m[1], 16)), escaped)
    segments = urlsplit(epc).path.split("/")
    at = max(i for i, s in enumerate(segments[:-3]) if s == "01" and segments[i + 2] == "21")
    return segments[at + 1], unquote(segments[at + 3])


def near_misses(serial: str) -> list[str]:
    """Other serials that a decoder applying escapes once too often or too rarely would confuse with ``serial``."""
    out = [serial[:i] + f"%{ord(c):02X}" + serial[i + 1 :] for i, c in enumerate(serial) if len(serial) <= 18]
    for m in _URN_ESCAPE.finditer(serial):
        if chr(int(m[1], 16)) in CS82:
            out.append(serial[: m.start()] + chr(int(m[1], 16)) + serial[m.end() :])
    return out


serial_chars = st.one_of(st.sampled_from(PUNCTUATION), st.sampled_from(CS82))
serials = st.one_of(
    st.text(alphabet=serial_chars, min_size=1, max_size=20),
    st.sampled_from(["%", "%25", "100%", "A%41", "a'b", "x;y=z", "%2F/", "A'B;C=D%E", "?&=", '"quoted"']),
)

# --- the network --------------------------------------------------------------------------------------------------

PARENT = {"CN": None, "CN-44": "CN", "CN-44-01": "CN-44", "CN-44-03": "CN-44", "CN-32": "CN", "CN-32-01": "CN-32"}
BRAND_OWNED = ("BRAND", "WH")
AUTHORISED = {"D-GZ": ("CN-44-01",), "D-SZ": ("CN-44-03",), "D-NJ": ("CN-32",)}
STORES = {  # territory, supplied_by, lat, lon
    "S-GZ": ("CN-44-01", ("D-GZ",), 23.13, 113.26),
    "S-SZ": ("CN-44-03", ("D-SZ",), 22.54, 114.06),
    "S-SZ-2": ("CN-44-03", ("D-SZ", "D-GZ"), 22.55, 114.10),  # D-GZ may supply it, but it lies outside D-GZ's city
    "S-NJ": ("CN-32-01", ("D-NJ",), 32.06, 118.80),
}
TERRITORY = {"BRAND": "CN", "WH": "CN-44-01", "D-GZ": "CN-44-01", "D-SZ": "CN-44-03", "D-NJ": "CN-32-01"} | {
    s: row[0] for s, row in STORES.items()
}
GLN = {
    p: f"{COMPANY_PREFIX}{n:05d}" + check_digit(f"{COMPANY_PREFIX}{n:05d}")
    for n, p in enumerate([*BRAND_OWNED, *AUTHORISED, *STORES], start=1)
}


def _party(pid: str) -> dict[str, Any]:
    row: dict[str, Any] = {"id": pid, "name": pid, "gln": GLN[pid], "territory": TERRITORY[pid]}
    if pid == "BRAND":
        row["kind"] = "brand"
    elif pid == "WH":
        row.update(kind="warehouse", owner="BRAND")
    elif pid in AUTHORISED:
        row.update(kind="distributor", authorized_territories=list(AUTHORISED[pid]))
    else:
        _, supplied_by, lat, lon = STORES[pid]
        row.update(kind="store", supplied_by=list(supplied_by), member_store_no=f"M-{pid}", lat=lat, lon=lon)
    return row


MASTERDATA = {
    "territories": [{"id": t, "name": t, **({"parent": p} if p else {})} for t, p in PARENT.items()],
    "parties": [_party(p) for p in GLN],
    "products": [{"gtin": GTIN, "name": "Formula 800 g", "unit_price": "268.00", "currency": "CNY"}],
}


def party_spellings(pid: str) -> list[str]:
    """The ways the master-data contract lets an event name a party: id, SGLN URN, GLN Digital Link."""
    return [pid, f"urn:epc:id:sgln:{COMPANY_PREFIX}.{GLN[pid][7:12]}.0", f"https://id.gs1.org/414/{GLN[pid]}"]


def inside(place: str, distributor: str) -> bool:
    """A place is inside a territory node when the node is an ancestor-or-self of the place's territory."""
    node: str | None = TERRITORY[place]
    while node is not None:
        if node in AUTHORISED[distributor]:
            return True
        node = PARENT[node]
    return False


# --- plans and the alerts they must raise -------------------------------------------------------------------------

COMMISSIONED, AT_DISTRIBUTOR, AT_STORE, SOLD = 1, 2, 3, 4


@dataclass(frozen=True)
class Unit:
    serial: str
    origin: str
    distributor: str
    store: str
    depth: int
    """How far it went: commissioned; shipped by the brand and received; shipped on to the store and received; sold."""


def route_alerts(u: Unit) -> set[tuple[str, str, str | None]]:
    """(kind, place, responsible distributor) the rules raise for a genuine unit on its route (docs/diversion.md).

    The brand's places are not the market; a distributor sits inside its own territory; only stores have coordinates
    and a unit visits one store, so no speed is implied; a unit is sold at most once; so only the store can be out
    of territory, and only the distributor's shipment to it can break the channel.
    """
    out: set[tuple[str, str, str | None]] = set()
    if u.depth >= AT_STORE:
        if u.distributor not in STORES[u.store][1]:
            out.add(("unauthorized_channel", u.store, u.distributor))
        if not inside(u.store, u.distributor):
            out.add(("out_of_territory", u.store, u.distributor))
    return out


PAIRS = [(d, s) for d in AUTHORISED for s in STORES]
HONEST = [p for p in PAIRS if not route_alerts(Unit("x", "WH", *p, SOLD))]
DIVERTED: dict[frozenset[str], list[tuple[str, str]]] = {}
"""Routes that take a unit out of its distributor's territory, by the kinds of alert they raise."""
for _pair in PAIRS:
    _kinds = route_alerts(Unit("x", "WH", *_pair, SOLD))
    if ("out_of_territory", _pair[1], _pair[0]) in _kinds:
        DIVERTED.setdefault(frozenset(kind for kind, _, _ in _kinds), []).append(_pair)
assert all(inside(d, d) for d in AUTHORISED) and HONEST and len(DIVERTED) == 2


@dataclass(frozen=True)
class Plan:
    units: list[Unit]
    """The first is the planted diversion; the others are honest."""
    counterfeit: tuple[str, str] | None
    """(serial, store) of a code nobody commissioned, sold at the store."""

    def expected(self) -> Counter[tuple[str, tuple[str, str], str | None, str | None]]:
        found: Counter[tuple[str, tuple[str, str], str | None, str | None]] = Counter()
        for u in self.units:
            found.update((kind, (GTIN, u.serial), place, who) for kind, place, who in route_alerts(u))
        if self.counterfeit:
            found[("counterfeit_suspected", (GTIN, self.counterfeit[0]), self.counterfeit[1], None)] += 1
        return found


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n = draw(st.integers(3, 8), label="units")
    names = draw(st.lists(serials, min_size=n, max_size=n, unique=True), label="serials")
    units = []
    kinds = draw(st.sampled_from(sorted(DIVERTED, key=len)), label="the diversion raises")
    for i, serial in enumerate(names):
        d, s = draw(st.sampled_from(DIVERTED[kinds] if i == 0 else HONEST))
        depth = SOLD if i == 0 else draw(st.integers(COMMISSIONED, SOLD))
        units.append(Unit(serial, draw(st.sampled_from(BRAND_OWNED)), d, s, depth))
    counterfeit = None
    confusable = sorted({m for s in names for m in near_misses(s)} - set(names))
    fake = draw(st.sampled_from(["none", "near miss", "other"]), label="counterfeit")
    if fake != "none":
        serial = draw(st.sampled_from(confusable) if fake == "near miss" and confusable else serials)
        if serial not in names:
            counterfeit = (serial, draw(st.sampled_from(sorted(STORES))))
            event(f"counterfeit: {'a near miss of a genuine serial' if serial in confusable else 'another serial'}")
    event(f"the diversion raises {sorted(kinds)}")
    return Plan(units, counterfeit)


# --- events -------------------------------------------------------------------------------------------------------

T0 = datetime(2026, 4, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class Story:
    """The events of a plan, with the selling event of each sold unit and the brand shipment of each bought one."""

    events: list[dict[str, Any]]
    sale_of: dict[str, str]
    purchase_of: dict[str, tuple[str, str]]
    """serial → (shipping eventID, distributor)."""


def write(plan: Plan, data: st.DataObject) -> Story:
    """The plan as EPCIS events, every EPC in a drawn spelling and every party in a drawn (per example) one."""
    where = {p: data.draw(st.sampled_from(party_spellings(p)), label=f"{p} is named") for p in GLN}
    story = Story([], {}, {})

    def record(step: str, units: list[str], at: str, when: datetime, *, to: str | None = None,
              action: str = "OBSERVE") -> str:  # fmt: skip
        epcs = [data.draw(spellings(s), label=f"{s!r} in {step} at {at}") for s in units]
        e: dict[str, Any] = {
            "eventID": f"urn:uuid:00000000-0000-4000-8000-{len(story.events) + 1:012d}",
            "type": "ObjectEvent", "action": action, "bizStep": step, "epcList": epcs,
            "eventTime": when.isoformat(), "eventTimeZoneOffset": "+00:00",
            "readPoint": {"id": where[at]}, "bizLocation": {"id": where[at]},
        }  # fmt: skip
        if to is not None:
            e["sourceList"] = [{"type": "owning_party", "source": where[at]}]
            e["destinationList"] = [{"type": "owning_party", "destination": where[to]}]
        story.events.append(e)
        return str(e["eventID"])

    def groups(depth: int, key: Any) -> dict[Any, list[str]]:
        out: dict[Any, list[str]] = {}
        for u in plan.units:
            if u.depth >= depth:
                out.setdefault(key(u), []).append(u.serial)
        return out

    for origin, units in groups(COMMISSIONED, lambda u: u.origin).items():
        record("commissioning", units, origin, T0, action="ADD")
    for (origin, d), units in groups(AT_DISTRIBUTOR, lambda u: (u.origin, u.distributor)).items():
        shipped = record("shipping", units, origin, T0 + 12 * HOUR, to=d)
        story.purchase_of.update((s, (shipped, d)) for s in units)
        record("receiving", units, d, T0 + 24 * HOUR)
    for (d, store), units in groups(AT_STORE, lambda u: (u.distributor, u.store)).items():
        record("shipping", units, d, T0 + 36 * HOUR, to=store)
        record("receiving", units, store, T0 + 48 * HOUR)
    for i, u in enumerate(u for u in plan.units if u.depth >= SOLD):
        story.sale_of[u.serial] = record("retail_selling", [u.serial], u.store, T0 + 60 * HOUR + i * HOUR)
    if plan.counterfeit:
        serial, store = plan.counterfeit
        story.sale_of[serial] = record("retail_selling", [serial], store, T0 + 50 * HOUR)
    return story


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-04-01T00:00:00Z",
            "epcisBody": {"eventList": events}}  # fmt: skip


def replay(session: Session, events: list[dict[str, Any]], data: st.DataObject) -> None:
    """Capture the events in a drawn arrival order and split into documents, some of them twice."""
    order = data.draw(st.permutations(range(len(events))), label="arrival order")
    order += data.draw(st.lists(st.sampled_from(order), max_size=3), label="sent again")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(order) - 1), max_size=4), label="document cuts"))
    for start, end in zip([0, *cuts], [*cuts, len(order)], strict=True):
        capture_document(session=session, document=document([events[i] for i in order[start:end]]))


# --- what the system derived --------------------------------------------------------------------------------------


def alerts(session: Session) -> Counter[tuple[str, tuple[str, str], str | None, str | None]]:
    """Active alerts as (kind, decoded identity of their EPC, place, responsible distributor)."""
    found: Counter[tuple[str, tuple[str, str], str | None, str | None]] = Counter()
    for a in list_alerts(session=session, filters=AlertFilter()):
        session.refresh(a)
        found[(str(a.kind), identity(a.epc), a.party_id, a.responsible_distributor_id)] += 1
    return found


def snapshot(session: Session) -> set[tuple[Any, ...]]:
    rows = list_alerts(session=session, filters=AlertFilter())
    for a in rows:
        session.refresh(a)
    return {(a.id, str(a.kind), a.unit_key, a.epc, a.party_id, a.responsible_distributor_id, str(a.status),
             a.event_ids) for a in rows}  # fmt: skip


def check_settlement(session: Session, story: Story) -> None:
    """One counted sale per sold unit, one counted purchase per bought one, the two under the same unit key."""
    sales = session.exec(select(Sale.event_id, Sale.unit_key, Sale.gtin, Sale.counted)).all()
    by_event = Counter(event_id for event_id, *_ in sales)
    wanted = Counter(story.sale_of.values())
    assert by_event == wanted, f"sale rows per selling event {dict(by_event)}, expected one each {dict(wanted)}"
    key_of_sale = {event_id: key for event_id, key, _, _ in sales}
    assert all(gtin == GTIN and counted for _, _, gtin, counted in sales), f"uncounted or mis-read sales: {sales}"
    assert len(set(key_of_sale.values())) == len(key_of_sale), f"two sold units share a key: {key_of_sale}"

    purchases = session.exec(select(Purchase.event_id, Purchase.unit_key, Purchase.distributor_id,
                                    Purchase.counted)).all()  # fmt: skip
    assert all(counted for *_, counted in purchases), f"uncounted purchases: {purchases}"
    assert len(purchases) == len(story.purchase_of), (
        f"{len(purchases)} purchase rows for {len(story.purchase_of)} units bought: {purchases}"
    )
    rows_of_shipment = Counter((event_id, d) for event_id, _, d, _ in purchases)
    assert rows_of_shipment == Counter(story.purchase_of.values()), f"purchases per shipment: {purchases}"
    assert len({key for _, key, _, _ in purchases}) == len(purchases), f"two bought units share a key: {purchases}"
    bought = {(event_id, key) for event_id, key, _, _ in purchases}
    for serial, sale in story.sale_of.items():
        if serial in story.purchase_of:
            shipment = story.purchase_of[serial][0]
            assert (shipment, key_of_sale[sale]) in bought, (
                f"{serial!r} was sold under key {key_of_sale[sale]!r}, which the brand's shipment {shipment} "
                f"did not buy: {sorted(k for e, k in bought if e == shipment)}"
            )


STATUS_AT = {COMMISSIONED: "commissioned", AT_DISTRIBUTOR: "received", AT_STORE: "received", SOLD: "sold"}


def check_states(session: Session, plan: Plan) -> None:
    """Each genuine unit has one code record, under its serial as printed, in the state its last event left it."""
    for u in plan.units:
        rows = session.exec(select(Code).where(Code.gtin == GTIN, Code.serial == u.serial)).all()
        assert [str(r.status) for r in rows] == [STATUS_AT[u.depth]], (u, [(r.serial, r.status) for r in rows])


def _show(story: Story) -> str:
    return "\n".join(
        f"  [{i}] {e['bizStep']} at {e['bizLocation']['id']}: {e['epcList']}" for i, e in enumerate(story.events)
    )


# --- the tests ----------------------------------------------------------------------------------------------------


@scenario_examples(25)
@given(data=st.data())
def test_any_spelling_of_a_unit_is_the_same_unit(session: Session, data: st.DataObject) -> None:
    """Planted alerts exactly, incrementally and after re-evaluation; each unit bought and sold once."""
    plan = data.draw(plans(), label="plan")
    story = write(plan, data)
    note(f"events:\n{_show(story)}")
    expected = plan.expected()
    savepoint = session.begin_nested()
    try:
        import_masterdata(session=session, raw=MASTERDATA)
        replay(session, story.events, data)
        got = alerts(session)
        assert got == expected, f"incremental: missed {expected - got}; unexpected {got - expected}"
        check_settlement(session, story)
        check_states(session, plan)
        before = snapshot(session)
        result = reevaluate(session=session)
        assert (result.raised, result.updated, result.withdrawn, result.reopened) == (0, 0, 0, 0), result
        after = alerts(session)
        assert after == expected, f"re-evaluated: missed {expected - after}; unexpected {after - expected}"
        assert snapshot(session) == before
    finally:
        savepoint.rollback()


def _hand_written(serial: str, urn: str, links: list[str]) -> list[dict[str, Any]]:
    """Commissioned as ``urn`` at the warehouse; shipped, received, delivered and sold as the Digital Links."""
    where = {p: f"https://id.gs1.org/414/{GLN[p]}" for p in GLN}

    def e(n: int, step: str, epc: str, at: str, to: str | None = None, action: str = "OBSERVE") -> dict[str, Any]:
        out: dict[str, Any] = {
            "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}", "type": "ObjectEvent", "action": action,
            "bizStep": step, "epcList": [epc], "eventTime": (T0 + n * 12 * HOUR).isoformat(),
            "eventTimeZoneOffset": "+00:00", "bizLocation": {"id": where[at]},
        }  # fmt: skip
        if to:
            out["sourceList"] = [{"type": "owning_party", "source": where[at]}]
            out["destinationList"] = [{"type": "owning_party", "destination": where[to]}]
        return out

    assert {identity(x) for x in [urn, *links]} == {(GTIN, serial)}  # the spellings really are one unit
    ship, receive, deliver, sell = links
    return [
        e(1, "commissioning", urn, "WH", action="ADD"),
        e(2, "shipping", ship, "WH", to="D-GZ"),
        e(3, "receiving", receive, "D-GZ"),
        e(4, "shipping", deliver, "D-GZ", to="S-GZ"),
        e(5, "retail_selling", sell, "S-GZ"),
    ]


@pytest.mark.parametrize(
    ("serial", "urn", "links"),
    [
        pytest.param(
            "A'B;C=D%E",
            "urn:epc:id:sgtin:6901234.000010.A'B;C=D%25E",
            [
                "https://id.gs1.org/01/06901234000108/21/A'B;C=D%25E",
                "https://example.com/01/06901234000108/21/%41%27B%3bC%3DD%25E",
                "http://example.com/01/06901234000108/21/A%27B%3BC%3DD%25E",
                "https://brand.example.com/dl/01/06901234000108/21/A'B%3BC=D%25%45",
            ],
            id="percent",
        ),
        pytest.param(
            "A'B;C=D%25E",
            "urn:epc:id:sgtin:6901234.000010.A'B;C=D%2525E",
            [
                "https://id.gs1.org/01/06901234000108/21/A'B;C=D%2525E",
                "https://example.com/01/06901234000108/21/A%27B%3BC%3DD%2525E",
                "https://id.gs1.org/01/06901234000108/21/A'B;C=D%252%35E",
                "https://example.com/01/06901234000108/21/A'B;C=D%2525%45",
            ],
            id="literal-percent-25",
        ),
    ],
)
def test_urn_commissioned_unit_sold_as_digital_link(session: Session, serial: str, urn: str, links: list[str]) -> None:
    """A readable case: commissioned as a URN, then seen only as Digital Links; genuine, bought once, sold once."""
    import_masterdata(session=session, raw=MASTERDATA)
    events = _hand_written(serial, urn, links)
    capture_document(session=session, document=document(events))
    assert alerts(session) == Counter(), "a genuine unit on an honest route raised alerts"
    sales = session.exec(select(Sale.event_id, Sale.unit_key, Sale.counted)).all()
    purchases = session.exec(select(Purchase.event_id, Purchase.unit_key, Purchase.distributor_id)).all()
    assert [(e, c) for e, _, c in sales] == [(events[4]["eventID"], True)]
    assert [(e, d) for e, _, d in purchases] == [(events[1]["eventID"], "D-GZ")]
    assert sales[0][1] == purchases[0][1], "the unit was sold under another key than it was bought under"
