"""Streamed reading of large EPCIS JSON documents (scanning/epcis_stream.py): exactly json.loads's accepted set,
values and errors, and the capture of a streamed document the capture of the same document parsed whole."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from scanning import epcis, epcis_stream, routes
from scanning.epcis import capture_document
from scanning.epcis_stream import StreamedDocument, read_json
from scanning.errors import InvalidDocument
from tests.factories import auth
from tests.scanning.test_epcis_rest import document as rest_document
from tests.scanning.test_epcis_rest import event as rest_event
from tests.scanning.test_epcis_rest import keys  # noqa: F401 (a fixture)
from traceability.errors import TraceabilityError
from traceability.models import Event

CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]


def _doc(events: list[Any], **extra: Any) -> dict[str, Any]:
    return {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
            "epcisBody": {"eventList": events}, **extra}  # fmt: skip


def _event(i: int, *, with_id: bool = True, **extra: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting",
                         "eventTime": f"2026-01-05T10:00:{i % 60:02d}.{i:03d}+08:00", "eventTimeZoneOffset": "+08:00",
                         "epcList": [f"urn:epc:id:sgtin:6901234.000010.T{i}"]}  # fmt: skip
    if with_id:
        e["eventID"] = f"urn:uuid:00000000-0000-4000-8000-{i:012d}"
    e.update(extra)
    return e


def _whole(value: Any) -> Any:
    """A streamed document as json.loads would have given it (its events read from the stream)."""
    if not isinstance(value, StreamedDocument):
        return value
    events = list(value.events())
    assert value.count == len(events)
    assert [e for chunk in value.chunks(3) for e in chunk] == events
    top = json.loads(json.dumps(value.top))
    top["epcisBody"]["eventList"] = events
    return top


def _outcome(read: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        value = read()
    except Exception as exc:  # noqa: BLE001 - the very exception is what is compared
        return ("error", type(exc), str(exc))
    return ("ok", json.dumps(_whole(value)))  # NaN, -0.0, key order and int/float all show in the text


def _strict(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"))  # as the CLI reads a file


# --- the same accepted set, values and errors as json.loads ---------------------------------------------------------

_TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["\ud800", "a\udfff", "\U0001f600", "\x00", "\x0c", "NaN",
                                                         "Infinity", "é中", "\u2028", "a.b", "item"]))  # fmt: skip
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(), st.sampled_from([0.0, -0.0, 1e300, 1e-320, 1.5]), _TEXT)  # fmt: skip
_JSON = st.recursive(_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(_TEXT, inner, max_size=4)), max_leaves=12)
_EVENT = st.one_of(st.builds(_event, st.integers(0, 999), with_id=st.booleans()), _JSON,
                   st.dictionaries(st.sampled_from(["type", "eventID", "epcList", "x"]), _JSON, max_size=3))


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    body: dict[str, Any] = {"eventList": draw(st.lists(_EVENT, max_size=6))}
    if draw(st.booleans()):
        body = dict(draw(st.permutations([*body.items(), *draw(st.dictionaries(_TEXT, _JSON, max_size=2)).items()])))
    document: dict[str, Any] = {
        "@context": draw(st.sampled_from([CTX, [*CTX, {"ex": "https://example.com/"}], "x", 3])),
        "type": draw(st.sampled_from(["EPCISDocument", "EPCISDocument", "EPCISDocument", "EPCISQueryDocument", 7])),
        "schemaVersion": "2.0",
        "epcisHeader": draw(st.one_of(st.just({}), _JSON)),
        "epcisBody": draw(st.one_of(st.just(body), st.just(body), _JSON)),
    }
    items = draw(st.permutations([*document.items(), *draw(st.dictionaries(_TEXT, _JSON, max_size=2)).items()]))
    text = json.dumps(dict(items), ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 0, 2, "\t"])))
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "utf-8-sig"])), "surrogatepass")


_INSERTS = [b"\xef\xbb\xbf", b"\x0c", b"\x0b", b" ", b"\t", b",", b"}", b"]", b"{", b"[", b'"', b":", b"NaN",
            b"-Infinity", b"\\ud800", b"\\udc00", b"\xed\xa0\x80", b"\xff", b"\xc2\xa0", b"\x00", b"\n", b"/*c*/",
            b"1" * 25, b"1e400", b'"epcisBody":{"eventList":[]},', b'"eventList":[1],', b'"type":"EPCISDocument",',
            b'"epcisBody.eventList":[2],', b"{}", b"[]", b"null", b"0", b"-0.0", b"\\"]  # fmt: skip


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(_documents()))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(raw)))
        how = draw(st.sampled_from(["insert", "insert", "delete", "replace"]))
        if how == "insert":
            raw[at:at] = draw(st.sampled_from(_INSERTS))
        elif how == "delete" and raw:
            del raw[min(at, len(raw) - 1)]
        elif raw:
            raw[min(at, len(raw) - 1)] = draw(st.integers(0, 255))
    return bytes(raw)


def _compare(raw: bytes) -> None:
    assert _outcome(lambda: read_json(raw, stream_from=0)) == _outcome(lambda: json.loads(raw))
    assert _outcome(lambda: read_json(raw, loads=_strict, stream_from=0)) == _outcome(lambda: _strict(raw))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_documents())
def test_generated_documents_read_as_json_loads_reads_them(raw: bytes) -> None:
    _compare(raw)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_documents_read_or_fail_as_json_loads(raw: bytes) -> None:
    _compare(raw)


@pytest.mark.parametrize("raw", [
    b'{"type":"EPCISDocument","epcisBody":{"eventList":[{"a":1}]},"epcisBody":{"eventList":[]}}',
    b'{"type":"EPCISDocument","epcisBody":{"eventList":[1],"eventList":[2]}}',
    b'{"type":"EPCISDocument","epcisBody.eventList":[9],"epcisBody":{"eventList":[1]}}',
    b'\xef\xbb\xbf{"type":"EPCISDocument","epcisBody":{"eventList":[1]}}',
    b'{"type":"EPCISDocument","epcisBody":{"eventList":[NaN, Infinity, -Infinity]}}',
    b'{"type":"EPCISDocument","epcisBody":{"eventList":["\\ud800", "\xed\xa0\x80"]}}',
    b'\x0c{"type":"EPCISDocument","epcisBody":{"eventList":[1]}}\x0b',
    b'{"type":"EPCISDocument","epcisBody":{"eventList":[' + b"9" * 5000 + b"]}}",
    b'{"type":"EPCISDocument","epcisBody":{"eventList":[12345678901234567890123, 1E5, -0, -0.0, 1e-400, 1e400]}}',
    b'{"type":"EPCISDocument","epcisBody":{"eventList":[1]}} {}',
    b'{"type":"EPCISDocument","epcisBody":{"eventList":[' + b"[" * 3000 + b"]" * 3000 + b"]}}",
    b'{"type":"EPCISDocument","epcisBody":{"eventList":["a\x01"]}}',
    b"",
    b"[]",
])  # fmt: skip
def test_edges_where_ijson_and_json_part_ways(raw: bytes) -> None:
    _compare(raw)


def test_a_plain_large_document_is_streamed_from_bytes_and_from_a_file(tmp_path: Path) -> None:
    raw = json.dumps(_doc([_event(i) for i in range(50)], epcisHeader={"x": [1, {"y": 2}]}), indent=1).encode()
    streamed = read_json(raw, stream_from=0)
    assert isinstance(streamed, StreamedDocument)
    assert streamed.count == 50 and streamed.top["epcisBody"] == {"eventList": []}
    assert _whole(streamed) == json.loads(raw)
    path = tmp_path / "big.json"
    path.write_bytes(raw)
    with path.open("rb") as file:
        mapped = read_json(file, stream_from=0)
    assert isinstance(mapped, StreamedDocument)
    assert _whole(mapped) == json.loads(raw) and _whole(mapped) == json.loads(raw)  # read twice over
    assert not isinstance(read_json(raw), StreamedDocument)  # small: parsed whole
    with tempfile.TemporaryFile() as empty, pytest.raises(json.JSONDecodeError):
        read_json(empty, stream_from=0)


def test_streamed_reading_holds_a_chunk_not_the_document() -> None:
    raw = json.dumps(_doc([_event(i) for i in range(20_000)])).encode()

    def peak(read: Callable[[], Any]) -> int:
        tracemalloc.start()
        try:
            read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def streamed() -> None:
        document = read_json(raw, stream_from=0)
        assert isinstance(document, StreamedDocument)
        for _chunk in document.chunks(500):
            pass

    assert peak(streamed) * 5 < peak(lambda: json.loads(raw))


# --- capture of a streamed document is the capture of the document --------------------------------------------------


def _captured(session: Session, raw: bytes, *, streamed: bool, **kw: Any) -> tuple[Any, ...]:
    document = read_json(raw, stream_from=0) if streamed else json.loads(raw)
    assert isinstance(document, StreamedDocument) == streamed
    savepoint = session.begin_nested()
    try:
        result = capture_document(session=session, document=document, **kw)
        just_stored = select(Event).where(col(Event.capture_id) == result.capture_id).order_by(col(Event.seq))
        events = [(e.event_id, e.hash_id, e.document) for e in session.exec(just_stored)]
    except TraceabilityError as exc:
        return ("error", type(exc).__name__, exc.message, [(p.path, p.reason) for p in getattr(exc, "problems", [])])
    finally:
        savepoint.rollback()
    out = result.as_dict()
    out.pop("captureID")
    return ("ok", out, events)


def _same(session: Session, document: dict[str, Any], **kw: Any) -> tuple[Any, ...]:
    raw = json.dumps(document, ensure_ascii=False).encode()
    whole = _captured(session, raw, streamed=False, **kw)
    assert _captured(session, raw, streamed=True, **kw) == whole
    return whole


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epcis, "CAPTURE_BATCH", 3)  # chunks end inside every document below


def test_valid_events_store_the_same_with_the_same_hashes(session: Session, small_batches: None) -> None:
    events = [_event(i, with_id=i % 2 == 0) for i in range(10)] + [_event(4), _event(5, with_id=False)]
    kind, result, stored = _same(session, _doc(events))
    assert kind == "ok" and result["stored"] == 10 and result["duplicates"] == 2
    assert len({hash_id for _, hash_id, _ in stored}) == 10


def test_invalid_events_and_conflicts_refuse_alike(session: Session, small_batches: None) -> None:
    bad = [_event(i) for i in range(8)]
    bad[6] = {**bad[6], "action": "MOVE"}
    assert _same(session, _doc(bad))[:3] == ("error", "InvalidDocument", "1 event(s) are not valid EPCIS 2.0; "
                                             "nothing was stored")  # fmt: skip
    clash = [_event(i) for i in range(8)] + [_event(1, bizStep="shipping")]
    assert _same(session, _doc(clash))[1] == "CaptureConflict"
    both = [*clash, {"type": "Nothing"}]
    kind, result, _ = _same(session, _doc(both), proceed=True)
    assert kind == "ok" and result["stored"] == 8 and [r["index"] for r in result["refused"]] == [8, 9]
    assert _same(session, _doc(bad), max_events=5)[1] == "CaptureLimitExceeded"


def test_against_the_store_duplicates_and_conflicts_alike(session: Session, small_batches: None) -> None:
    capture_document(session=session, document=_doc([_event(i) for i in range(4)]))
    kind, result, _ = _same(session, _doc([_event(i) for i in range(7)]))
    assert kind == "ok" and (result["stored"], result["duplicates"]) == (3, 4)
    assert _same(session, _doc([_event(5), _event(2, bizStep="shipping")]))[1] == "CaptureConflict"


def test_the_route_streams_a_large_body_with_the_same_answers(
    client: TestClient, keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    seen: list[bool] = []

    def spying(raw: bytes, **kw: Any) -> Any:
        found = read_json(raw, **kw)
        seen.append(isinstance(found, StreamedDocument))
        return found

    monkeypatch.setattr(routes, "read_json", spying)
    monkeypatch.setattr(epcis, "CAPTURE_BATCH", 2)
    others = [rest_event(f"N{i}", at="D-NJ") for i in range(3)]
    body = json.dumps(rest_document(*[rest_event(f"G{i}") for i in range(5)], *others)).encode()
    answers = []
    for streamed_from in (1 << 40, 0):
        monkeypatch.setattr(epcis_stream, "STREAM_FROM", streamed_from)
        headers = {**auth(keys["gz"]), "content-type": "application/json"}
        refused = client.post("/epcis/capture", content=body, headers=headers)
        assert refused.status_code == 403, refused.text
        answers.append(refused.json())
    assert answers[0] == answers[1] and seen == [False, True]
    proceed = client.post("/epcis/capture", content=body, headers={**headers, "GS1-Capture-Error-Behaviour": "proceed"})
    assert proceed.status_code == 202, proceed.text
    assert proceed.json()["stored"] == 5 and [r["index"] for r in proceed.json()["refused"]] == [5, 6, 7]
    assert seen[-1] is True


def test_the_cli_streams_a_large_file_and_refuses_a_bom_as_before(
    tmp_path: Path, committing_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setattr(epcis_stream, "STREAM_FROM", 0)
    monkeypatch.setattr(epcis, "CAPTURE_BATCH", 4)
    kinds: list[bool] = []
    real = epcis.capture_document

    def spying(**kw: Any) -> Any:
        kinds.append(isinstance(kw["document"], StreamedDocument))
        return real(**kw)

    monkeypatch.setattr(epcis, "capture_document", spying)
    url = str(committing_engine.url.render_as_string(hide_password=False))
    path = tmp_path / "big.json"
    path.write_text(json.dumps(_doc([_event(i) for i in range(10)]), indent=2), encoding="utf-8")
    result = CliRunner().invoke(app, ["--db", url, "epcis", "capture", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stored"] == 10 and kinds == [True]
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    refused = CliRunner().invoke(app, ["--db", url, "epcis", "capture", str(bom)])
    assert isinstance(refused.exception, InvalidDocument), refused.output
    assert "is not JSON: Unexpected UTF-8 BOM" in refused.exception.message
    assert kinds == [True]  # refused before capture, as json.loads of the decoded text refuses it
