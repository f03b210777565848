"""Listeners for stored events and rejected scans, so domains react to captures without the core importing them.

``flow_graph`` registers its rules here; the app factory and the CLI root import it, which registers it.
Listeners run inside the capture's transaction: what they write commits or rolls back with the capture.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlmodel import Session

from traceability.models import Event, RejectedScan

__all__ = [
    "EventsListener",
    "RejectionListener",
    "notify_events_stored",
    "notify_scan_rejected",
    "on_events_stored",
    "on_scan_rejected",
]

EventsListener = Callable[[Session, Sequence[Event]], None]
RejectionListener = Callable[[Session, Sequence[RejectedScan]], None]
_event_listeners: list[EventsListener] = []
_rejection_listeners: list[RejectionListener] = []


def on_events_stored(listener: EventsListener) -> EventsListener:
    """Register ``listener`` (once) to run after new events are stored and unit states re-derived."""
    if listener not in _event_listeners:
        _event_listeners.append(listener)
    return listener


def on_scan_rejected(listener: RejectionListener) -> RejectionListener:
    """Register ``listener`` (once) to run after scans from our own scanners were rejected and recorded."""
    if listener not in _rejection_listeners:
        _rejection_listeners.append(listener)
    return listener


def notify_events_stored(session: Session, events: Sequence[Event]) -> None:
    for listener in list(_event_listeners):
        listener(session, events)


def notify_scan_rejected(session: Session, rejected: Sequence[RejectedScan]) -> None:
    for listener in list(_rejection_listeners):
        listener(session, rejected)
