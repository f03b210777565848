"""The spliced query document (stored texts joined as they are) says exactly what the parsed one says."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.store import EPCIS_CONTEXT, canonical_json
from scanning.rest import query_document, query_document_json

_prefix = st.sampled_from(["ex", "ex2", "acme", "gs1x"])
_namespace = st.sampled_from(["http://ns.example.com/epcis/", "https://acme.example/", "urn:x:"])
_context = st.one_of(
    st.none(),
    st.just(EPCIS_CONTEXT),
    st.just([EPCIS_CONTEXT]),
    st.lists(st.dictionaries(_prefix, _namespace, min_size=1, max_size=2), max_size=2).map(
        lambda extra: [EPCIS_CONTEXT, *extra]
    ),
)
_event = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["ObjectEvent", "AggregationEvent"]),
        "eventID": st.text(min_size=1, max_size=12),
        "epcList": st.lists(st.text(max_size=8), max_size=3),
        "note": st.text(max_size=10),  # Unicode, quotes and backslashes included
    }
)


def _with_context(event: dict[str, Any], context: object) -> dict[str, Any]:
    return event if context is None else {"@context": context, **event}


def _without_date(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "creationDate"}


@given(st.lists(st.tuples(_event, _context, st.booleans()), max_size=6), st.text(max_size=20))
def test_spliced_document_equals_the_parsed_one(items: list[tuple[dict[str, Any], object, bool]], name: str) -> None:
    events = [_with_context(event, context) for event, context, _ in items]
    # The stored form, or another spelling (spaces, unsorted keys) that must take the slow path.
    texts = [
        canonical_json(e) if canonical else json.dumps(e) for e, (_, _, canonical) in zip(events, items, strict=True)
    ]
    spliced = json.loads(query_document_json(texts, query_name=name))
    parsed = json.loads(json.dumps(query_document(events, query_name=name)))
    assert _without_date(spliced) == _without_date(parsed)


def test_an_event_keeps_its_own_context_when_two_events_give_a_prefix_two_namespaces() -> None:
    first = {"@context": [EPCIS_CONTEXT, {"ex": "http://a.example/"}], "type": "ObjectEvent", "eventID": "1"}
    second = {"@context": [EPCIS_CONTEXT, {"ex": "http://b.example/"}], "type": "ObjectEvent", "eventID": "2"}
    body = json.loads(query_document_json([canonical_json(first), canonical_json(second)]))
    listed = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert body["@context"] == [EPCIS_CONTEXT, {"ex": "http://a.example/"}]
    assert "@context" not in listed[0]
    assert listed[1]["@context"] == second["@context"]


@given(st.lists(_event, min_size=2, max_size=6), _context, st.lists(st.integers(0, 5), max_size=3))
def test_events_sharing_a_context_read_as_the_parsed_ones(events: list[dict[str, Any]], context: object,
                                                          odd: list[int]) -> None:  # fmt: skip
    """One capture's events share their context, which the splice parses once: some of them with another
    context in between must still each say what they say."""
    docs = [_with_context(event, context) for event in events]
    for i in odd:
        if i < len(docs):
            docs[i] = _with_context(events[i], [EPCIS_CONTEXT, {"ex": "http://other.example/"}])
    spliced = json.loads(query_document_json([canonical_json(d) for d in docs]))
    parsed = json.loads(json.dumps(query_document(docs)))
    assert _without_date(spliced) == _without_date(parsed)
