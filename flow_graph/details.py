"""The stored explanation of an alert (``Alert.detail``), written in English from one template per case, and read
back into its case and fields.

The detail is kept as the API and the exports give it; a page in another language reads it back with :func:`parse`
(the case's key and its fields: parties, territories, a business step, distances) and words it afresh, with names
for the parties and territories. The rules write every detail with :func:`write` (the system's case notes with
:func:`write_note`), from the same templates the parser is built from, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from functools import cache

__all__ = ["NOTES", "TEMPLATES", "parse", "write", "write_note"]

TEMPLATES: dict[str, str] = {
    "holder": "{taker} recorded {step} of a unit held by {holder}",
    "channel": "{sender} shipped to store {store}, which it is not authorised to supply",
    "not_member": "seen at store {place}, which holds no member authorisation number",
    "territory": (
        "seen at {place} (territory {territory}), outside the territories of its responsible distributor "
        "{distributor} ({allowed})"
    ),
    "sold_twice": "sold twice: at {first} and at {second}",
    "speed": "seen at {before} and at {place}, {km} km apart, {minutes} min later: {speed}{tolerance} > {max} km/h",
    "counterfeit": "never issued by the brand and not commissioned by a brand-owned party",
    "rejected": "scan rejected as {reason}",
}
"""One English sentence per case; a field holds a party id unless :data:`_FIELDS` says otherwise."""

NOTES: dict[str, str] = {
    "retracted": "evidence retracted by an errorDeclaration: {events}",
    "known_event": "the code is now known: commissioned by {party} in event {event}",
    "known_issued": "the code is now known: issued by the brand",
    "no_longer": "no longer holds: events or master data that arrived since changed the unit's history",
    "raised_again": "raised again: {detail}",
    "verified": "a verified sighting confirms it",
    "assigned": "assigned to {assignee}",
    "unassigned": "unassigned",
}
"""The case history's notes the system writes (a withdrawal's reason, a reopening, an assignment), read back the
same way; a note a person wrote matches none of them."""

UNKNOWN_PLACE = "an unknown place"
"""What a template's place says when the place is not known."""
NO_TERRITORY = "none"
"""``allowed`` when the distributor is authorised for no territory."""
INSTANT = "an instant"
"""``speed`` when the two sightings bear the same moment (or the later one is earlier)."""

_FIELDS = {
    "km": r"\d+",
    "minutes": r"-?\d+",
    "max": r"\d+",
    "speed": rf"{INSTANT}|\d+ km/h",
    "tolerance": r"(?: \(allowing \d+ min of clock skew\))?",
    "allowed": r".*",
    "detail": r".+",
    "events": r".+",
}


@cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{_FIELDS.get(p, r'.+?')})" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$", re.DOTALL)


def write(key: str, **fields: object) -> str:
    """The stored detail of case ``key`` (a key of :data:`TEMPLATES`)."""
    return TEMPLATES[key].format(**fields)


def write_note(key: str, **fields: object) -> str:
    """The text of the system's case note ``key`` (a key of :data:`NOTES`)."""
    return NOTES[key].format(**fields)


def parse(text: str, templates: dict[str, str] = TEMPLATES) -> tuple[str, dict[str, str]] | None:
    """The case and fields a stored text was written from; None for a text no template wrote (an older one, or a
    note a person wrote)."""
    for key, template in templates.items():
        found = _pattern(template).match(text)
        if found is not None:
            return key, found.groupdict()
    return None
