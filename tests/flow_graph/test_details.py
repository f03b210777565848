"""The stored alert explanations read back into the case and fields they were written from (flow_graph.details),
which is what lets a page word them in its own language."""

from __future__ import annotations

import string

import pytest

from flow_graph import details

SAMPLES: dict[str, dict[str, str]] = {
    "holder": {"taker": "S-NJ-1", "step": "retail_selling", "holder": "D-GZ"},
    "channel": {"sender": "D-GZ", "store": "S-NJ-1"},
    "not_member": {"place": "S-X, 2"},
    "territory": {"place": "S-NJ-1", "territory": "CN-32-01", "distributor": "D-GZ", "allowed": "CN-44-01, CN-44-03"},
    "sold_twice": {"first": details.UNKNOWN_PLACE, "second": "S-GZ-1"},
    "speed": {"before": "S-GZ-1", "place": "S-NJ-1", "km": "1133", "minutes": "-3", "speed": details.INSTANT,
              "tolerance": " (allowing 5 min of clock skew)", "max": "900"},
    "counterfeit": {},
    "rejected": {"reason": "bad_signature"},
}


def test_every_template_has_a_sample() -> None:
    assert set(SAMPLES) == set(details.TEMPLATES)
    for key, template in details.TEMPLATES.items():
        assert {f for _, f, _, _ in string.Formatter().parse(template) if f} == set(SAMPLES[key]), key


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_a_written_detail_parses_back_to_its_case_and_fields(key: str) -> None:
    assert details.parse(details.write(key, **SAMPLES[key])) == (key, SAMPLES[key])


@pytest.mark.parametrize(("speed", "tolerance", "allowed"), [("412 km/h", "", "none"), (details.INSTANT, "", "")])
def test_the_variable_parts_parse(speed: str, tolerance: str, allowed: str) -> None:
    fields = {**SAMPLES["speed"], "speed": speed, "tolerance": tolerance}
    assert details.parse(details.write("speed", **fields)) == ("speed", fields)
    place = {**SAMPLES["territory"], "allowed": allowed}
    assert details.parse(details.write("territory", **place)) == ("territory", place)


def test_a_text_no_template_wrote_is_not_guessed() -> None:
    assert details.parse("something an older version wrote") is None
    assert details.parse(details.write("channel", **SAMPLES["channel"]) + " later") is None


NOTE_SAMPLES: dict[str, dict[str, str]] = {
    "retracted": {"events": "urn:uuid:1, urn:uuid:2"},
    "known_event": {"party": "PLANT-1", "event": "urn:uuid:3"},
    "known_issued": {},
    "no_longer": {},
    "raised_again": {"detail": details.write("channel", **SAMPLES["channel"])},
    "verified": {},
    "assigned": {"assignee": "王审计"},
    "unassigned": {},
}


@pytest.mark.parametrize("key", sorted(NOTE_SAMPLES))
def test_a_system_note_parses_back_and_a_persons_note_does_not(key: str) -> None:
    assert set(NOTE_SAMPLES) == set(details.NOTES)
    text = details.write_note(key, **NOTE_SAMPLES[key])
    assert details.parse(text, details.NOTES) == (key, NOTE_SAMPLES[key])
    assert details.parse("Sold to S-NJ-1 by mistake; recalled.", details.NOTES) is None
