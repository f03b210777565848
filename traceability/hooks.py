"""Listeners for newly stored events, so that domains can react to captures without the core importing them.

``flow_graph`` registers its rules here; the app factory and the CLI root import it, which registers it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session

from traceability.models import Event

__all__ = ["EventsListener", "notify_events_stored", "on_events_stored"]

EventsListener = Callable[[Session, Sequence[Event]], None]
_listeners: list[EventsListener] = []


def on_events_stored(listener: EventsListener) -> EventsListener:
    """Register ``listener`` (once) to run in the capture's transaction after its events are stored."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def notify_events_stored(session: Session, events: Sequence[Event]) -> None:
    for listener in list(_listeners):
        listener(session, events)
