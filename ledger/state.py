"""Unit status and holder, folded from the stored history, so that arrival order never matters.

A unit's state is a fold over every non-retracted event that concerns it (:func:`ledger.history.sightings_of`), in
event-time order. The fold is recomputed for every code a capture touches, so a late or out-of-order event lands
where it belongs; the ``status`` and ``holder_id`` columns of ``code`` are a cache of it, written set-based.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import Session, col

from ledger.history import (
    CodeFacts,
    EventRow,
    StoredEvent,
    StoreView,
    affected_keys,
    covering_view,
    load_view,
    share_view,
    shared_view,
    sightings_of,
)
from traceability.models import Code, CodeStatus

__all__ = ["UNKNOWN", "UnitState", "fold", "rederive", "rederive_recorded", "state_of", "step"]

# bizStep → the status a unit has after it; steps not listed observe without changing state.
_STEP_STATUS = {
    "commissioning": CodeStatus.commissioned,
    "packing": CodeStatus.commissioned,
    "shipping": CodeStatus.shipped,
    "departing": CodeStatus.shipped,
    "receiving": CodeStatus.received,
    "arriving": CodeStatus.received,
    "accepting": CodeStatus.received,
    "retail_selling": CodeStatus.sold,
    "decommissioning": CodeStatus.voided,
    "destroying": CodeStatus.voided,
}
_TERMINAL = frozenset({CodeStatus.sold, CodeStatus.voided})


@dataclass(frozen=True, slots=True)
class UnitState:
    status: CodeStatus | None
    holder_id: str | None


def step(state: UnitState, event: EventRow) -> UnitState:
    """The state after one more event: the fold's step, for rules that judge each event by the state before it."""
    status, holder = state.status, state.holder_id
    if status in _TERMINAL:
        return state
    new = _STEP_STATUS.get(event.biz_step or "")
    if event.event_type == "ObjectEvent" and event.action == "DELETE":
        new = CodeStatus.voided
    if new is not None:
        status = new
    if new is CodeStatus.shipped:
        holder = event.destination or holder
    elif new is not None or event.location:
        holder = event.location or event.destination or holder
    return UnitState(status=status, holder_id=holder)


UNKNOWN = UnitState(status=None, holder_id=None)
"""The state before any event."""


def fold(events: Iterable[EventRow]) -> UnitState:
    """A unit's status and holder after its events (already in event-time order)."""
    state = UNKNOWN
    for event in events:
        if state.status in _TERMINAL:
            break
        state = step(state, event)
    return state


def state_of(view: StoreView, key: str) -> UnitState:
    """The state of one code in a loaded view."""
    return fold(s.event for s in sightings_of(view, key))


_SET_STATE = (
    update(Code)
    .where(col(Code.id) == bindparam("code_id"))
    .values(status=bindparam("new_status"), holder_id=bindparam("new_holder"))
)


def rederive(session: Session, events: Sequence[StoredEvent]) -> int:
    """Recompute the state of every recorded code the events concern (and of what is inside containers they name).

    Returns how many code rows changed. ORM copies of changed rows in the session are expired, so request-sized
    work that loaded them sees the new state.
    """
    if not events:
        return 0
    session.flush()
    keys = affected_keys(session, events)
    view = shared_view(session, keys, events)
    if view is None:
        view = load_view(session, keys)
        share_view(session, keys, view)
    return _write_states(session, view, view.codes)


def rederive_recorded(session: Session, events: Sequence[StoredEvent], keys: Iterable[str]) -> int:
    """Give code records just written for ``keys`` (named by this append's ``events``) the state their history says.

    Within an append whose view covers them (:func:`ledger.history.covering_view`, the records added to it by
    :func:`ledger.history.codes_recorded`), only those codes are derived: no other code's history involves a record
    that holds nothing and sits in nothing, and every other code of the view has its state already. Otherwise, as
    :func:`rederive` of the events.
    """
    wanted = set(keys)
    view = covering_view(session, wanted)
    if view is None:
        return rederive(session, events)
    session.flush()
    return _write_states(session, view, [k for k in view.codes if k in wanted])


def _write_states(session: Session, view: StoreView, keys: Iterable[str]) -> int:
    """Write the states of these codes of the view that changed; the view's facts then say what was written."""
    changes: list[dict[str, Any]] = []
    written: list[tuple[str, CodeFacts]] = []
    for key in keys:
        facts = view.codes[key]
        state = state_of(view, key)
        if state.status is None:
            continue
        if facts.status != state.status.value or facts.holder != state.holder_id:
            changes.append({"code_id": facts.id, "new_status": state.status.value, "new_holder": state.holder_id})
            written.append((key, replace(facts, status=state.status.value, holder=state.holder_id)))
    view.codes.update(written)
    if changes:
        session.connection().execute(_SET_STATE, changes)
        changed = {c["code_id"] for c in changes}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Code) and obj.id in changed:
                session.expire(obj, ["status", "holder_id"])
    return len(changes)
