"""CBV 2.0 event hash: the published vectors, the official examples, and the invariants the hash exists for."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.event_hash import (
    HashContext,
    canonical_gs1_uri,
    document_event_hashes,
    document_events,
    event_hash_id,
    prehash_string,
)
from traceability.gs1 import with_check_digit

CONFORMANCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
VECTORS = CONFORMANCE / "event-hash"
EXAMPLES = CONFORMANCE / "epcis" / "JSON"
HASH_ID = re.compile(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0")
EXAMPLE_CONTEXT = HashContext.from_jsonld([{"example": "https://ns.example.com/epcis/"}])


def _absent(folder: Path) -> Any:
    reason = f"conformance data not found at {folder} (expected ../shared/conformance beside the project)"
    return pytest.param(None, None, marks=pytest.mark.skip(reason=reason), id="absent")


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


# Published pre-hash lines that are not the pre-hash of their event: none of them hashes to the id published for the
# same event, while the id we compute from the event does match it (test_hash_matches_published covers those).
CORRUPT_PREHASHES = {
    ("epcisDocWithAllGS1Keys", 0): (
        "fragments are spliced into its values ('epc=httpspc=', '/235=https://AB12', "
        "'https://i23456010d.gs1.org/8006/…', 'quantityElementetityElempcClass=', 'ref.gs5000115/1.org/cbv/') "
        "although the event's 14 EPCs and 7 classes are well formed"
    ),
    ("epcisDocWithCustomSchemaInContext", 1): (
        "the line for event 2 describes event 1 (epcs …/21/2017 and …/21/2018, BizStep-shipping, "
        "Disp-in_transit, myField=myValue) with that extension moved before bizTransactionList; event 2 is "
        "receiving, one epc, bizLocation, two transactions and myField2=myValue2"
    ),
    ("epcisDocWithDefaultSchemaInContext", 1): (
        "the line for event 2 stops mid-value at 'bizTransaction=urn:epcglobal:cbv:bt:06141410734': "
        "the rest of that id (…67:1152) and the po transaction are missing"
    ),
}


def _vector_params(kind: str) -> list[Any]:
    if not VECTORS.is_dir():
        return [_absent(VECTORS)]
    params = []
    for document in sorted(VECTORS.glob("*.jsonld")):
        published = document.with_suffix(f".{kind}")
        if not published.exists():
            continue
        for index in range(len(_lines(published))):
            marks = []
            if kind == "prehashes" and (document.stem, index) in CORRUPT_PREHASHES:
                reason = (
                    f"published pre-hash line is corrupt: {CORRUPT_PREHASHES[document.stem, index]}; its SHA-256 is "
                    "not the published hash id, while the id we compute from the event is"
                )
                marks.append(pytest.mark.xfail(reason=reason, strict=True))
            params.append(pytest.param(document, index, marks=marks, id=f"{document.stem}-{index}"))
    return params


def _documents(folder: Path, patterns: tuple[str, ...]) -> list[Any]:
    if not folder.is_dir():
        return [_absent(folder)]
    paths = sorted({path for pattern in patterns for path in folder.rglob(pattern)})
    return [pytest.param(path, None, id=str(path.relative_to(folder))) for path in paths]


# ---------------------------------------------------------------------------------------------------------------------
# Published vectors and official examples
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "index"), _vector_params("prehashes"))
def test_prehash_matches_published(path: Path, index: int) -> None:
    document = _load(path)
    event = document_events(document)[index]
    published = _lines(path.with_suffix(".prehashes"))[index]
    assert prehash_string(event, HashContext.for_document(document)) == published


@pytest.mark.parametrize(("path", "index"), _vector_params("hashes"))
def test_hash_matches_published(path: Path, index: int) -> None:
    document = _load(path)
    event = document_events(document)[index]
    published = _lines(path.with_suffix(".hashes"))[index]
    assert event_hash_id(event, HashContext.for_document(document)) == published


@pytest.mark.parametrize(("path", "_"), _documents(VECTORS, ("*.jsonld",)))
def test_document_hashes_are_the_published_list(path: Path, _: None) -> None:
    assert document_event_hashes(_load(path)) == _lines(path.with_suffix(".hashes"))


@pytest.mark.parametrize(("stem", "index"), sorted(CORRUPT_PREHASHES))
def test_corrupt_published_prehashes_do_not_hash_to_their_published_ids(stem: str, index: int) -> None:
    """Why those pre-hash lines are expected failures: the vectors contradict themselves there."""
    if not VECTORS.is_dir():
        pytest.skip(f"conformance data not found at {VECTORS}")
    prehash = _lines(VECTORS / f"{stem}.prehashes")[index]
    published = _lines(VECTORS / f"{stem}.hashes")[index]
    assert f"ni:///sha-256;{hashlib.sha256(prehash.encode()).hexdigest()}?ver=CBV2.0" != published


@pytest.mark.parametrize(("path", "_"), _documents(EXAMPLES, ("*.jsonld", "*.json")))
def test_every_official_example_event_gets_a_hash(path: Path, _: None) -> None:
    document = _load(path)
    hashes = document_event_hashes(document)
    assert hashes
    assert len(hashes) == len(document_events(document))
    assert all(HASH_ID.fullmatch(hash_id) for hash_id in hashes)


# ---------------------------------------------------------------------------------------------------------------------
# Rules, one by one
# ---------------------------------------------------------------------------------------------------------------------


def minimal_event(**fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2024-05-14T09:31:07.123+02:00",
        "eventTimeZoneOffset": "+02:00",
        "epcList": ["urn:epc:id:sgtin:4012345.011111.9876"],
        "action": "OBSERVE",
        "bizStep": "shipping",
    }
    event.update(fields)
    return event


@pytest.mark.parametrize(
    ("uri", "canonical"),
    [
        ("urn:epc:id:sgtin:4012345.011111.9876", "https://id.gs1.org/01/04012345111118/21/9876"),
        ("urn:epc:id:sgtin:415056789012.0.987654", "https://id.gs1.org/01/04150567890128/21/987654"),
        ("urn:epc:id:sgtin:0614141.812345.6789%2F!", "https://id.gs1.org/01/80614141123458/21/6789%2F%21"),
        ("urn:epc:id:sscc:4012345.3111111111", "https://id.gs1.org/00/340123451111111111"),
        ("urn:epc:id:sgln:4012345.00005.0", "https://id.gs1.org/414/4012345000054"),
        ("urn:epc:id:sgln:4012345.00005.122", "https://id.gs1.org/414/4012345000054/254/122"),
        ("urn:epc:id:pgln:999999999999.", "https://id.gs1.org/417/9999999999994"),
        ("urn:epc:class:lgtin:4012345.012345.Lot987", "https://id.gs1.org/01/04012345123456/10/Lot987"),
        ("urn:epc:idpat:sgtin:4012345.066666.*", "https://id.gs1.org/01/04012345666663"),
        ("https://id.gs1.org/gtin/9780345418913", "https://id.gs1.org/01/09780345418913"),
        (
            "https://example.com/gtin/09780345418913/21/765tz?abc=211121",
            "https://id.gs1.org/01/09780345418913/21/765tz",
        ),
        ("https://brand.example/p/01/04012345111118/22/V1/10/L1/21/S1", "https://id.gs1.org/01/04012345111118/21/S1"),
        ("https://id.gs1.org/01/04012345111118/21/6789%2f%21", "https://id.gs1.org/01/04012345111118/21/6789%2F%21"),
        ("https://id.gs1.de/00/040123451111111110", "https://id.gs1.org/00/040123451111111110"),
    ],
)
def test_gs1_keys_become_one_constrained_digital_link(uri: str, canonical: str) -> None:
    assert canonical_gs1_uri(uri) == canonical


@pytest.mark.parametrize(
    "uri",
    [
        "urn:epcglobal:cbv:bt:5200001000008:4711",
        "http://transaction.acme.com/po/12345678",
        "https://ref.gs1.org/cbv/BizStep-receiving",
        "geo:47.506694,11.104301",
        "urn:epc:id:sgtin:4012345.01111.9876",  # 12 digits, not a GTIN
        "https://id.gs1.org/01/0401234511111X",
        "https://id.gs1.org/01/04012345111118/8019/1",  # a qualifier an 01 key does not take
    ],
)
def test_what_holds_no_gs1_key_is_left_alone(uri: str) -> None:
    assert canonical_gs1_uri(uri) is None


@pytest.mark.parametrize(
    ("event_time", "canonical"),
    [
        ("2020-03-04T11:00:30+01:00", "2020-03-04T10:00:30.000Z"),
        ("2020-03-04T10:00:30Z", "2020-03-04T10:00:30.000Z"),
        ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),
        ("2023-02-02T11:04:03.1425Z", "2023-02-02T11:04:03.143Z"),  # half a millisecond rounds up, not to even
        ("2023-12-31T23:59:59.9996-00:30", "2024-01-01T00:30:00.000Z"),
        ("2022-02-15T01:33:31.116000-06:00", "2022-02-15T07:33:31.116Z"),
    ],
)
def test_times_are_utc_milliseconds(event_time: str, canonical: str) -> None:
    assert f"eventTime={canonical}eventTimeZoneOffset" in prehash_string(minimal_event(eventTime=event_time))


def test_vocabulary_in_any_spelling_is_the_cbv_web_uri() -> None:
    spellings = [
        "shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
        "cbv:BizStep-shipping",
    ]
    prehashes = {prehash_string(minimal_event(bizStep=spelling)) for spelling in spellings}
    assert len(prehashes) == 1
    assert "bizStep=https://ref.gs1.org/cbv/BizStep-shipping" in prehashes.pop()


def test_numbers_lose_only_insignificant_zeros() -> None:
    quantities = {
        prehash_string(
            minimal_event(quantityList=[{"epcClass": "urn:epc:class:lgtin:4012345.012345.L1", "quantity": q}])
        )
        for q in (452, 452.0, "452.00", "+0452")
    }
    assert len(quantities) == 1
    assert "quantity=452" in quantities.pop()
    # exact, not through a binary float: two long numbers that a double would merge stay apart
    first = event_hash_id(minimal_event(**{"example:counter": "12345678901234567890"}), EXAMPLE_CONTEXT)
    second = event_hash_id(minimal_event(**{"example:counter": "12345678901234567891"}), EXAMPLE_CONTEXT)
    assert first != second


def test_extension_names_are_expanded_with_the_documents_prefixes() -> None:
    curie = prehash_string(minimal_event(**{"example:myField": {"example:sub": "1"}}), EXAMPLE_CONTEXT)
    iri = prehash_string(
        minimal_event(**{"https://ns.example.com/epcis/myField": {"https://ns.example.com/epcis/sub": "1"}})
    )
    assert curie == iri
    assert curie.endswith("{https://ns.example.com/epcis/}myField{https://ns.example.com/epcis/}sub=1")
    undeclared = prehash_string(minimal_event(**{"example:myField": "x"}))
    assert undeclared.endswith("example:myField=x")


def test_repository_fields_errors_and_comments_are_not_hashed() -> None:
    base = event_hash_id(minimal_event())
    noisy = minimal_event(
        eventID="urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        recordTime="2024-05-14T09:31:09.000Z",
        errorDeclaration={"declarationTime": "2024-05-15T00:00:00Z", "reason": "incorrect_data"},
        comment="scanned at gate 3",
        **{"rdfs:comment": "a comment"},
    )
    assert event_hash_id(noisy) == base


def test_a_document_may_name_fields_to_leave_out() -> None:
    document = {
        "@context": [{"example": "https://ns.example.com/epcis/", "repo": "https://repo.example.com/"}],
        "type": "EPCISDocument",
        "repo:ignoreFields": ["example:captureID"],
        "epcisBody": {"eventList": [minimal_event(**{"example:captureID": "c1"}), minimal_event()]},
    }
    first, second = document_event_hashes(document)
    assert first == second


def test_an_event_needs_a_type() -> None:
    event = minimal_event()
    del event["type"]
    with pytest.raises(ValueError, match="type"):
        prehash_string(event)


# ---------------------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------------------

COMPANIES = ("4012345", "0614141", "952005385", "40123456")
SERIAL = st.text(alphabet="ABCXYZabcxyz0123456789-._", min_size=1, max_size=20)


@st.composite
def sgtins(draw: st.DrawFn) -> tuple[str, str, str]:
    """(company prefix, item reference with indicator, serial) of one serialised trade item."""
    company = draw(st.sampled_from(COMPANIES))
    item = draw(st.text(alphabet="0123456789", min_size=13 - len(company), max_size=13 - len(company)))
    return company, item, draw(SERIAL)


def sgtin_urn(key: tuple[str, str, str]) -> str:
    company, item, serial = key
    return f"urn:epc:id:sgtin:{company}.{item}.{serial}"


def sgtin_link(key: tuple[str, str, str]) -> str:
    company, item, serial = key
    gtin = with_check_digit(item[0] + company + item[1:])
    return f"https://brand.example/01/{gtin}/21/{quote(serial, safe='')}?linkType=all"


EXTENSION_VALUES = st.recursive(
    st.text(alphabet="abcXYZ012 -", max_size=8) | st.integers(-1000, 1000) | st.booleans(),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(st.sampled_from(["example:a", "example:b", "example:c"]), inner, min_size=1, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ObjectEvent with the parts whose order JSON leaves free: lists, objects, extensions."""
    instant = draw(st.datetimes(datetime(2000, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC)))
    epcs = draw(st.lists(sgtins(), min_size=1, max_size=6, unique_by=sgtin_urn))
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": instant.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "eventTimeZoneOffset": draw(st.sampled_from(["+00:00", "+01:00", "-06:00", "+05:30"])),
        "epcList": [sgtin_urn(epc) for epc in epcs],
        "action": draw(st.sampled_from(["ADD", "OBSERVE", "DELETE"])),
        "bizStep": draw(st.sampled_from(["shipping", "receiving", "packing", "retail_selling", "inspecting"])),
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00005.0"},
    }
    if draw(st.booleans()):
        event["disposition"] = draw(st.sampled_from(["in_transit", "in_progress", "sellable_accessible"]))
    transactions = draw(st.lists(st.sampled_from(["po", "desadv", "inv"]), max_size=3, unique=True))
    if transactions:
        event["bizTransactionList"] = [
            {"type": kind, "bizTransaction": f"urn:epcglobal:cbv:bt:4012345000009:{kind.upper()}1"}
            for kind in transactions
        ]
    parties = draw(st.lists(st.sampled_from(["owning_party", "possessing_party", "location"]), max_size=3, unique=True))
    if parties:
        event["sourceList"] = [{"type": kind, "source": "urn:epc:id:pgln:4012345.00000"} for kind in parties]
        event["destinationList"] = [{"type": kind, "destination": "urn:epc:id:pgln:0614141.00000"} for kind in parties]
    if draw(st.booleans()):
        event["sensorElementList"] = [
            {
                "sensorMetadata": {"time": event["eventTime"], "deviceID": "urn:epc:id:giai:4000001.111"},
                "sensorReport": [
                    {"type": kind, "value": draw(st.integers(-40, 60)), "uom": "CEL"}
                    for kind in draw(
                        st.lists(st.sampled_from(["Temperature", "Humidity", "Speed"]), min_size=1, unique=True)
                    )
                ],
            }
        ]
    extensions = draw(
        st.dictionaries(st.sampled_from(["example:x", "example:y", "example:z"]), EXTENSION_VALUES, max_size=3)
    )
    event.update(extensions)
    return event


def shuffled(value: Any, rnd: random.Random) -> Any:
    """The same JSON with every object's keys and every list's elements in another order."""
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {key: shuffled(child, rnd) for key, child in items}
    if isinstance(value, list):
        elements = [shuffled(element, rnd) for element in value]
        rnd.shuffle(elements)
        return elements
    return value


@given(event=events(), rnd=st.randoms(use_true_random=False))
def test_hash_ignores_key_order_and_list_order(event: dict[str, Any], rnd: random.Random) -> None:
    assert event_hash_id(shuffled(event, rnd), EXAMPLE_CONTEXT) == event_hash_id(event, EXAMPLE_CONTEXT)


@given(
    event=events(),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
    drop_zero_millis=st.booleans(),
)
def test_hash_ignores_how_the_time_zone_is_written(
    event: dict[str, Any], offset_minutes: int, drop_zero_millis: bool
) -> None:
    instant = datetime.fromisoformat(event["eventTime"])
    local = instant.astimezone(timezone(timedelta(minutes=offset_minutes)))
    written = local.isoformat(timespec="seconds" if drop_zero_millis and local.microsecond == 0 else "milliseconds")
    elsewhere = copy.deepcopy(event)
    elsewhere["eventTime"] = written
    if "sensorElementList" in elsewhere:
        elsewhere["sensorElementList"][0]["sensorMetadata"]["time"] = written
    assert event_hash_id(elsewhere, EXAMPLE_CONTEXT) == event_hash_id(event, EXAMPLE_CONTEXT)


@given(
    keys=st.lists(sgtins(), min_size=1, max_size=5, unique_by=sgtin_urn),
    as_link=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_hash_ignores_urn_or_digital_link(keys: list[tuple[str, str, str]], as_link: list[bool]) -> None:
    urns = minimal_event(epcList=[sgtin_urn(key) for key in keys])
    mixed = minimal_event(
        epcList=[sgtin_link(key) if link else sgtin_urn(key) for key, link in zip(keys, as_link, strict=False)]
    )
    assert event_hash_id(mixed) == event_hash_id(urns)


def _change_epc(event: dict[str, Any], rnd: random.Random) -> None:
    index = rnd.randrange(len(event["epcList"]))
    event["epcList"][index] += "Q"


def _change_time(event: dict[str, Any], rnd: random.Random) -> None:
    moment = datetime.fromisoformat(event["eventTime"]) + timedelta(milliseconds=rnd.choice([1, -1, 60_000]))
    event["eventTime"] = moment.isoformat(timespec="milliseconds")


def _change_step(event: dict[str, Any], rnd: random.Random) -> None:
    event["bizStep"] = "commissioning" if event["bizStep"] != "commissioning" else "decommissioning"


def _add_epc(event: dict[str, Any], rnd: random.Random) -> None:
    event["epcList"].append("urn:epc:id:sgtin:4012345.011111.NEW")


def _change_extension(event: dict[str, Any], rnd: random.Random) -> None:
    event["example:x"] = f"{event.get('example:x')}!changed"


def _drop_read_point(event: dict[str, Any], rnd: random.Random) -> None:
    del event["readPoint"]


def _change_party(event: dict[str, Any], rnd: random.Random) -> None:
    event["sourceList"] = [
        *event.get("sourceList", []),
        {"type": "owning_party", "source": "urn:epc:id:pgln:9999999.00000"},
    ]


CHANGES = [_change_epc, _change_time, _change_step, _add_epc, _change_extension, _drop_read_point, _change_party]


@given(event=events(), change=st.sampled_from(CHANGES), rnd=st.randoms(use_true_random=False))
def test_hash_changes_with_any_meaningful_change(event: dict[str, Any], change: Any, rnd: random.Random) -> None:
    changed = copy.deepcopy(event)
    change(changed, rnd)
    assert event_hash_id(changed, EXAMPLE_CONTEXT) != event_hash_id(event, EXAMPLE_CONTEXT)
