"""EPCIS 2.0 named queries and webhook subscriptions, delivered by the worker (``epcis.deliver_subscriptions``).

A named query is the parameters of ``GET /epcis/events`` stored under a name, per party (a party sees its own; the
brand's full-view roles see every party's). A subscription to it names a webhook (``dest``), the subscriber's HMAC
secret (``signatureToken``) and when to send: ``stream`` (every worker pass) or a ``schedule``, with
``reportIfEmpty``. A schedule is GS1's cron-like one (``second``, ``minute``, ``hour``, ``dayOfMonth``, ``month``,
``dayOfWeek``: each a comma-separated list of numbers and ``[low-high]`` ranges, in UTC; the fields finer than the
finest one given run at their first value, the coarser ones at every value, as cron does: ``{"hour": "1",
"minute": "5"}`` is 01:05:00 every day), whose next run APScheduler's ``CronTrigger`` computes, or ours,
``{"interval": N}`` seconds.

Delivery follows the event rows in insertion order (``epcis_event.id``; appends are serialised by the chain head's
lock, so ids are committed in order). Each subscription keeps a ``cursor``, the last row id acknowledged: one batch
is POSTed, and only a 2xx advances the cursor, in the same transaction, committed at once. A failure (a non-2xx, a
timeout, a refused connection) leaves the cursor and sets ``next_attempt_at`` with exponential backoff. So every
matching event is sent in order and acknowledged once; a worker killed between the subscriber's 2xx and the commit
sends that batch again (same ``GS1-Delivery-ID``, same first event, perhaps with more events after it when more were
captured meanwhile): a subscriber deduplicates by eventID.

Where deliveries may go. A ``dest`` is an http(s) URL; one in a private, loopback, link-local or otherwise
non-global range (an IP literal, or a name that resolves to one when the subscription is made) is refused
(``dest_private``), unless ``Settings.epcis_webhook_allow_private`` is on: a key must not make the server call into
the network it runs in. A name may resolve to another address later (DNS rebinding), so the worker resolves it again
at each connection (:func:`guarded_client`), checks every address it resolves to, and connects to the address it
checked; a delivery to a refused address fails (and backs off) like any other, without a byte sent.

    TraceabilityError
    ├── NotFound (404) ── NoSuchResource (scanning.epcis_errors): a query or subscription the caller cannot see
    ├── Conflict (409) ── QueryExists: the party already has a query of that name
    └── SubscriptionInvalid (400): a ``dest``, schedule or stream the binding (or this server) cannot take
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from scanning.epcis_errors import NoSuchResource
from scanning.query import EventFilter, EventPage, event_page, parse_query, read_token, sign_token
from scanning.rest import query_document
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import Conflict, TraceabilityError
from traceability.i18n import Catalogue, messages
from traceability.models import EpcisQuery, EpcisSubscription, Event, Role
from traceability.worker import Job, JobContext, JobResult

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "DELIVERY_BATCH",
    "JOBS",
    "QueryExists",
    "QueryIn",
    "ScheduleInvalid",
    "SubscriptionIn",
    "SubscriptionInvalid",
    "create_query",
    "create_subscription",
    "deliver_due",
    "deliver_subscriptions",
    "delete_query",
    "dest_is_private",
    "guarded_client",
    "delete_subscription",
    "open_stream",
    "stream_batch",
    "get_query",
    "get_subscription",
    "list_queries",
    "list_subscriptions",
    "next_run",
    "query_events",
    "query_read",
    "sign",
    "subscription_read",
]

log = logging.getLogger("scanning.subscriptions")

DELIVERY_BATCH = 100
"""Events per webhook POST (the binding: "in manageable batches")."""
BACKOFF_BASE = 1.0
BACKOFF_MAX = 600.0
"""Seconds before the first retry, doubled after each failure in a row, up to this."""
TIMEOUT = 5.0
"""Seconds a subscriber has to answer one POST: a slow one must not hold the worker."""
_SCAN = 2000  # rows read per delivery when the query has JSON checks
_MAX_INTERVAL = 31 * 86400
SIGNATURE_HEADER = "GS1-Signature"
_QUERY_NAME = r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$"

_MESSAGES: Catalogue = messages("scanning.subscriptions")
_WORDS: Catalogue = messages("scanning.subscriptions:words")


def _worded(lang: str, key: str, **values: Any) -> str:
    return _MESSAGES.get(lang, _MESSAGES["en"])[key].format(**values)


class QueryExists(Conflict):
    """The caller's party already has a query of this name (the binding's ResourceAlreadyExistsException)."""

    code = "query_exists"

    def __init__(self, lang: str, *, name: str) -> None:
        super().__init__(_worded(lang, "query_exists", name=name), name=name)


class SubscriptionInvalid(TraceabilityError):
    """A subscription (or a query body) this server cannot take; ``reason`` names the field."""

    status_code = 400
    code = "subscription_invalid"

    def __init__(self, lang: str, *, reason: str) -> None:
        super().__init__(_worded(lang, reason, most=_MAX_INTERVAL), reason=reason)


class ScheduleInvalid(SubscriptionInvalid):
    """A ``schedule`` this server cannot run, the field named (``reason`` stays ``schedule``, ``field`` says which)."""

    def __init__(self, message: str, **detail: Any) -> None:
        TraceabilityError.__init__(self, message, **detail)


class QueryIn(BaseModel):
    """``POST /epcis/queries``: a name and the parameters ``GET /epcis/events`` takes."""

    name: str = Field(pattern=_QUERY_NAME)
    query: dict[str, Any]


class Schedule(BaseModel):
    """GS1's schedule fields (strings, as the binding types them; a bare number is taken too), or ours: interval."""

    model_config = ConfigDict(extra="allow")
    interval: int | None = None
    second: str | int | None = None
    minute: str | int | None = None
    hour: str | int | None = None
    dayOfMonth: str | int | None = None  # noqa: N815 - the binding's
    month: str | int | None = None
    dayOfWeek: str | int | None = None  # noqa: N815


class SubscriptionIn(BaseModel):
    """``POST /epcis/queries/{name}/subscriptions`` as the binding spells it (``schedule.interval`` is ours)."""

    dest: str = Field(max_length=2000)
    signatureToken: str | None = Field(default=None, min_length=1, max_length=500)  # noqa: N815 - the binding's
    reportIfEmpty: bool = False  # noqa: N815
    stream: bool | None = None
    schedule: Schedule | None = None
    initialRecordTime: datetime | None = None  # noqa: N815


# --- named queries -------------------------------------------------------------------------------------------------


def _params(query: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """A stored query's parameters as the query string's pairs (lists repeat the name)."""
    out: list[tuple[str, str]] = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                out.append((name, "true" if item else "false"))
            elif isinstance(item, str | int | float):
                out.append((name, str(item)))
            else:
                raise SubscriptionInvalid(lang, reason="query")
    return out


def _filter(stored: EpcisQuery, lang: str) -> EventFilter:
    return parse_query(_params(json.loads(stored.query), lang), lang=lang)


def _visible_queries(principal: Principal) -> Any:
    stmt = select(EpcisQuery)
    return stmt if principal.sees_all else stmt.where(col(EpcisQuery.party_id) == principal.party_id)


def create_query(*, session: Session, principal: Principal, body: QueryIn, lang: str) -> EpcisQuery:
    """Store a named query for the caller's party; its parameters are checked now, as ``GET /epcis/events`` would."""
    parse_query(_params(body.query, lang), lang=lang)
    taken = select(EpcisQuery.id).where(EpcisQuery.party_id == principal.party_id, EpcisQuery.name == body.name)
    if session.exec(taken).first() is not None:
        raise QueryExists(lang, name=body.name)
    stored = EpcisQuery(party_id=principal.party_id, name=body.name, query=json.dumps(body.query, ensure_ascii=False),
                        created_by=f"{principal.role.value}:{principal.party_id}")  # fmt: skip
    session.add(stored)
    session.flush()
    return stored


def get_query(*, session: Session, principal: Principal, name: str, lang: str) -> EpcisQuery:
    """The named query the caller may see: its own party's first (a full-view role: else the oldest of that name)."""
    own = col(EpcisQuery.party_id) == principal.party_id
    stmt = _visible_queries(principal).where(col(EpcisQuery.name) == name)
    found: EpcisQuery | None = session.exec(stmt.order_by(own.desc(), col(EpcisQuery.id)).limit(1)).first()
    if found is None:
        raise NoSuchResource(lang, kind="query", name=name)
    return found


def list_queries(
    *, session: Session, principal: Principal, per_page: int, token: str | None, secret: bytes, lang: str
) -> tuple[list[EpcisQuery], str | None]:
    """The queries the caller may see, oldest first, a page at a time (the token holds the last row id)."""
    caller = f"{principal.role.value}:{principal.party_id}"
    stmt = _visible_queries(principal)
    if token is not None:
        payload = read_token(token, secret, lang=lang, scope="queries", digest="", caller=caller)
        stmt = stmt.where(col(EpcisQuery.id) > int(payload.get("k", 0)))
    rows: list[EpcisQuery] = list(session.exec(stmt.order_by(col(EpcisQuery.id)).limit(per_page + 1)).all())
    if len(rows) <= per_page:
        return rows, None
    rows = rows[:per_page]
    return rows, sign_token({"s": "queries", "q": "", "c": caller, "k": rows[-1].id}, secret)


def delete_query(*, session: Session, principal: Principal, name: str, lang: str) -> None:
    """Remove a named query and every subscription to it (the binding: "forcibly unsubscribes")."""
    stored = get_query(session=session, principal=principal, name=name, lang=lang)
    for sub in session.exec(select(EpcisSubscription).where(EpcisSubscription.query_pk == stored.id)).all():
        session.delete(sub)
    session.flush()
    session.delete(stored)
    session.flush()


def query_events(
    *, session: Session, principal: Principal, name: str, per_page: int, token: str | None, secret: bytes, lang: str
) -> EventPage:
    """One page of the named query's events, scoped to the caller as ``GET /epcis/events`` is."""
    stored = get_query(session=session, principal=principal, name=name, lang=lang)
    return event_page(session=session, flt=_filter(stored, lang), principal=principal, per_page=per_page,
                      token=token, secret=secret, lang=lang, scope=f"query:{stored.id}")  # fmt: skip


def query_read(stored: EpcisQuery) -> dict[str, Any]:
    """The binding's query definition."""
    return {"name": stored.name, "query": json.loads(stored.query)}


# --- subscriptions -------------------------------------------------------------------------------------------------


def _forbidden(address: str) -> bool:
    """Whether an IP address is outside the public internet: private, loopback, link-local, reserved, multicast,
    unspecified, shared (CGNAT) — anything not global, an IPv4 address mapped into IPv6 judged as itself."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _resolved(host: str, port: int) -> list[str]:
    """The addresses a host name (or IP literal) resolves to; [] when it does not resolve."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def dest_is_private(dest: str) -> bool:
    """Whether a ``dest`` names, or now resolves to, an address outside the public internet (any one of them)."""
    parts = urlsplit(dest)
    host = (parts.hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return _forbidden(host)
    except ValueError:
        pass
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return any(_forbidden(a) for a in _resolved(host, port))


def _checked_dest(dest: str, lang: str, allow_private: bool) -> str:
    try:
        parts = urlsplit(dest)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        valid = False
    if not valid:
        raise SubscriptionInvalid(lang, reason="dest")
    if not allow_private and dest_is_private(dest):
        raise SubscriptionInvalid(lang, reason="dest_private")
    return dest


# GS1 field: (CronTrigger's field, lowest, highest, what CronTrigger calls the lowest). GS1's dayOfWeek is 1 (Monday)
# to 7 (Sunday), CronTrigger's 0 (Monday) to 6.
_CALENDAR: Mapping[str, tuple[str, int, int, int]] = {
    "second": ("second", 0, 59, 0), "minute": ("minute", 0, 59, 0), "hour": ("hour", 0, 23, 0),
    "dayOfMonth": ("day", 1, 31, 1), "month": ("month", 1, 12, 1), "dayOfWeek": ("day_of_week", 1, 7, 0),
}  # fmt: skip
_ELEMENT = re.compile(r"\[\s*(\d{1,2})\s*-\s*(\d{1,2})\s*\]|(\d{1,2})(?:\s*-\s*(\d{1,2}))?")
"""One element: a number, GS1's range ``[low-high]``, or the same range without its brackets, as cron writes it."""
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _values_of(field: str, text: str) -> list[tuple[int, int]]:
    """A GS1 schedule field's elements as (low, high) ranges; a value outside the field's range, a range the
    wrong way round or anything else is a :class:`ScheduleInvalid` naming the field."""
    _, low, high, _ = _CALENDAR[field]
    out: list[tuple[int, int]] = []
    for element in text.split(","):
        m = _ELEMENT.fullmatch(element.strip())
        first, last = (-1, -1) if m is None else (int(m[1] or m[3]), int(m[2] or m[4] or m[1] or m[3]))
        if not low <= first <= last <= high:
            raise ScheduleInvalid.keyed(_WORDS, "schedule_value", field=field, low=low, high=high, value=text,
                                        detail={"reason": "schedule", "field": field})  # fmt: skip
        out.append((first, last))
    return out


def _gs1_schedule(schedule: Schedule) -> dict[str, str] | None:
    """The GS1 fields a schedule gives, checked and as strings (None: ours, an interval); refused naming the field."""
    extra = schedule.model_extra or {}
    if extra:
        name = next(iter(extra))
        raise ScheduleInvalid.keyed(_WORDS, "schedule_field", field=name, detail={"reason": "schedule", "field": name})
    given = {name: getattr(schedule, name) for name in _CALENDAR if getattr(schedule, name) is not None}
    if schedule.interval is not None:
        if given:
            raise ScheduleInvalid.keyed(_WORDS, "schedule_mixed", detail={"reason": "schedule", "field": "interval"})
        if not 1 <= schedule.interval <= _MAX_INTERVAL:
            raise ScheduleInvalid.keyed(_WORDS, "schedule_interval", most=_MAX_INTERVAL,
                                        detail={"reason": "schedule", "field": "interval"})  # fmt: skip
        return None
    if not given:
        raise ScheduleInvalid.keyed(_WORDS, "schedule_empty", detail={"reason": "schedule", "field": "schedule"})
    out: dict[str, str] = {}
    for name, value in given.items():
        text = str(value) if not isinstance(value, bool) else ""
        _values_of(name, text)
        out[name] = text
    days = [d for a, b in _values_of("dayOfMonth", out.get("dayOfMonth", "1")) for d in range(a, b + 1)]
    months = [m for a, b in _values_of("month", out.get("month", "1-12")) for m in range(a, b + 1)]
    if not any(day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months):
        raise ScheduleInvalid.keyed(_WORDS, "schedule_never", day=out["dayOfMonth"], month=out.get("month", "1-12"),
                                    detail={"reason": "schedule", "field": "dayOfMonth"})  # fmt: skip
    return out


@lru_cache(maxsize=1024)
def _trigger(schedule: str) -> CronTrigger:
    """The CronTrigger of a stored (checked) GS1 schedule, in UTC."""
    fields: dict[str, str] = {}
    for name, text in json.loads(schedule).items():
        cron, low, _, cron_low = _CALENDAR[name]
        shift = cron_low - low
        ranges = _values_of(name, text)
        fields[cron] = ",".join(f"{a + shift}" if a == b else f"{a + shift}-{b + shift}" for a, b in ranges)
    return CronTrigger(timezone=UTC, **fields)


def next_run(schedule: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that a stored GS1 schedule names (UTC); 29 February every four years at
    the most rare. A schedule that never comes round is refused when it is made (``schedule_never``)."""
    at = _trigger(schedule).get_next_fire_time(None, after.astimezone(UTC) + timedelta(microseconds=1))
    if at is None:  # not reached for a checked schedule; a stored one is never left without a next run
        return after + timedelta(days=366)
    return at.astimezone(UTC)  # type: ignore[no-any-return]


def create_subscription(
    *, session: Session, principal: Principal, name: str, body: SubscriptionIn, now: datetime, lang: str,
    allow_private: bool = False,
) -> EpcisSubscription:  # fmt: skip
    """Subscribe a webhook to a named query; deliveries start after the newest event now stored (or at
    ``initialRecordTime``) and see what the subscriber's key sees. A ``dest`` in a non-public range is refused
    unless ``allow_private`` (``Settings.epcis_webhook_allow_private``)."""
    stored = get_query(session=session, principal=principal, name=name, lang=lang)
    dest = _checked_dest(body.dest, lang, allow_private)
    if bool(body.stream) == (body.schedule is not None):
        raise SubscriptionInvalid(lang, reason="when")
    interval = schedule = None
    first = now
    if body.schedule is not None:
        gs1 = _gs1_schedule(body.schedule)
        if gs1 is None:
            interval = body.schedule.interval
        else:
            schedule = json.dumps(gs1, separators=(",", ":"))
            first = next_run(schedule, now)  # the first delivery is the schedule's first time, not now
    elif body.reportIfEmpty:
        raise SubscriptionInvalid(lang, reason="report_if_empty")
    start = select(func.max(Event.id))
    if body.initialRecordTime is not None:
        start = start.where(col(Event.record_time) < body.initialRecordTime)
    cursor = session.exec(start).one() or 0
    sub = EpcisSubscription(
        subscription_id=str(uuid.uuid4()), query_pk=stored.id or 0, role=principal.role.value,
        party_id=principal.party_id, dest=dest, secret=body.signatureToken, stream=bool(body.stream),
        interval_seconds=interval, schedule=schedule, report_if_empty=body.reportIfEmpty,
        initial_record_time=body.initialRecordTime, cursor=cursor, next_attempt_at=first, created_at=now,
    )  # fmt: skip
    session.add(sub)
    session.flush()
    return sub


def list_subscriptions(*, session: Session, principal: Principal, name: str, lang: str) -> list[EpcisSubscription]:
    """The subscriptions to a named query the caller may see."""
    stored = get_query(session=session, principal=principal, name=name, lang=lang)
    stmt = select(EpcisSubscription).where(EpcisSubscription.query_pk == stored.id)
    return list(session.exec(stmt.order_by(col(EpcisSubscription.id))).all())


def get_subscription(
    *, session: Session, principal: Principal, name: str, subscription_id: str, lang: str
) -> EpcisSubscription:
    """One subscription of a named query the caller may see; unknown or not visible: one 404."""
    stored = get_query(session=session, principal=principal, name=name, lang=lang)
    stmt = select(EpcisSubscription).where(EpcisSubscription.query_pk == stored.id,
                                           EpcisSubscription.subscription_id == subscription_id)  # fmt: skip
    found = session.exec(stmt).first()
    if found is None:
        raise NoSuchResource(lang, kind="subscription", name=subscription_id)
    return found


def delete_subscription(*, session: Session, principal: Principal, name: str, subscription_id: str, lang: str) -> None:
    """Unsubscribe: no delivery starts after this commits."""
    found = get_subscription(session=session, principal=principal, name=name, subscription_id=subscription_id,
                             lang=lang)  # fmt: skip
    session.delete(found)
    session.flush()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def subscription_read(sub: EpcisSubscription) -> dict[str, Any]:
    """The binding's subscription response; the secret is never shown."""
    out: dict[str, Any] = {"subscriptionID": sub.subscription_id, "dest": sub.dest, "createdAt": _iso(sub.created_at)}
    if sub.stream:
        out["stream"] = True
    else:
        out["schedule"] = json.loads(sub.schedule) if sub.schedule is not None else {"interval": sub.interval_seconds}
        out["reportIfEmpty"] = sub.report_if_empty
    for key, value in (("lastNotifiedAt", sub.last_notified_at), ("initialRecordTime", sub.initial_record_time)):
        if value is not None:
            out[key] = _iso(value)
    return out


# --- delivery ------------------------------------------------------------------------------------------------------


class _GuardedBackend(httpcore.SyncBackend):
    """The network backend of webhook deliveries: resolves the host itself, refuses when any address it resolves to
    is outside the public internet (unless allowed), and connects to the very address it checked, so a name cannot
    resolve to a public address for the check and to a private one for the connection. TLS still verifies the
    certificate against the URL's host name (httpcore sends it as SNI, from the request, not from this address)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:  # fmt: skip
        addresses = _resolved(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        if not self.allow_private:
            refused = [a for a in addresses if _forbidden(a)]
            if refused:
                raise httpcore.ConnectError(f"{host} resolves to {refused[0]}, outside the public internet: not sent")
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, *, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=False),
                                             network_backend=_GuardedBackend(allow_private=allow_private))  # fmt: skip


def guarded_client(*, allow_private: bool = False, timeout: float = TIMEOUT) -> httpx.Client:
    """The HTTP client deliveries go through: no redirects, no proxy from the environment (a proxy would connect
    where this process never checked), every connection's address checked (:class:`_GuardedBackend`)."""
    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                        transport=_GuardedTransport(allow_private=allow_private))  # fmt: skip


def sign(body: bytes, secret: str) -> str:
    """``GS1-Signature``: the hex HMAC-SHA256 of the exact body, keyed with the subscriber's signatureToken."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class _Batch:
    events: list[dict[str, Any]]
    last_id: int
    """The cursor once acknowledged: the last event sent, or the last row read when nothing more matched."""
    full: bool


def _next_batch(session: Session, sub: EpcisSubscription, flt: EventFilter) -> _Batch:
    return _events_after(session, Principal(role=Role(sub.role), party_id=sub.party_id), sub.cursor, flt)


def _events_after(session: Session, principal: Principal, cursor: int, flt: EventFilter) -> _Batch:
    """The next batch after row ``cursor`` that the query matches and ``principal`` may see."""
    stmt: Any = select(Event.id, Event.document).where(col(Event.id) > cursor, *flt.sql_conditions())
    stmt = scope_to_party(stmt, principal, Event.location_party_id, Event.source_party_id, Event.destination_party_id)
    size = DELIVERY_BATCH if not flt.checks else _SCAN
    rows = session.exec(stmt.order_by(col(Event.id)).limit(size)).all()
    found: list[dict[str, Any]] = []
    last = cursor
    for row_id, document in rows:
        doc = json.loads(document)
        if all(check(doc) for check in flt.checks):
            found.append(doc)
        last = row_id
        if len(found) == DELIVERY_BATCH:
            break
    return _Batch(found, last, full=len(found) == DELIVERY_BATCH or len(rows) == size)


# --- websocket streams ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamStart:
    """A websocket stream's query and where it starts: after the newest event stored (or before initialRecordTime)."""

    query_pk: int
    name: str
    cursor: int


def open_stream(
    *, session: Session, principal: Principal, name: str, initial_record_time: datetime | None, lang: str
) -> StreamStart:
    """Where a websocket stream of a named query starts, the query being one the caller may see (else a 404)."""
    stored = get_query(session=session, principal=principal, name=name, lang=lang)
    _filter(stored, lang)  # a stored query this version cannot run is refused now, not mid-stream
    start = select(func.max(Event.id))
    if initial_record_time is not None:
        start = start.where(col(Event.record_time) < initial_record_time)
    return StreamStart(stored.id or 0, stored.name, session.exec(start).one() or 0)


@dataclass(frozen=True, slots=True)
class StreamBatch:
    events: list[dict[str, Any]]
    cursor: int
    full: bool


def stream_batch(*, session: Session, principal: Principal, query_pk: int, cursor: int) -> StreamBatch | None:
    """The stream's next events after ``cursor``, scoped as the caller's ``GET /epcis/events``; None once the named
    query is gone (deleting a query "forcibly unsubscribes" its streams too)."""
    stored = session.get(EpcisQuery, query_pk)
    if stored is None:
        return None
    batch = _events_after(session, principal, cursor, _filter(stored, "en"))
    return StreamBatch(batch.events, batch.last_id, batch.full)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)))


def _deliver_one(session: Session, sub: EpcisSubscription, now: datetime, client: httpx.Client) -> str:
    """Deliver what is due for one (locked) subscription; what happened: sent, idle, failed."""
    stored = session.get(EpcisQuery, sub.query_pk)
    assert stored is not None  # a query is deleted with its subscriptions
    batch = _next_batch(session, sub, _filter(stored, "en"))
    scheduled = sub.interval_seconds is not None or sub.schedule is not None
    if sub.schedule is not None:
        after_success = next_run(sub.schedule, now)
    else:
        after_success = now + timedelta(seconds=sub.interval_seconds or 0, microseconds=0 if scheduled else 1)
    if not batch.events and not (scheduled and sub.report_if_empty):
        sub.cursor = batch.last_id
        sub.next_attempt_at = now if batch.full else after_success
        session.add(sub)
        return "idle"
    document = query_document(batch.events, query_name=stored.name)
    document["epcisBody"]["queryResults"]["subscriptionID"] = sub.subscription_id
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/ld+json", "GS1-EPCIS-Version": "2.0.0",
               "GS1-Delivery-ID": f"{sub.subscription_id}:{sub.cursor}"}  # fmt: skip
    if sub.secret:
        headers[SIGNATURE_HEADER] = sign(body, sub.secret)
    try:
        response = client.post(sub.dest, content=body, headers=headers)
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    if error is not None:
        sub.attempts += 1
        sub.last_error = error
        sub.next_attempt_at = now + _backoff(sub.attempts)
        session.add(sub)
        log.info("subscription %s: delivery failed (%s), retry at %s", sub.subscription_id, error, sub.next_attempt_at)
        return "failed"
    sub.cursor = batch.last_id
    sub.attempts = 0
    sub.last_error = None
    sub.last_notified_at = now
    sub.next_attempt_at = now if batch.full else after_success
    session.add(sub)
    return "sent"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int
    failed: int
    more: bool


def deliver_due(*, session: Session, now: datetime, client: httpx.Client) -> DeliveryReport:
    """Deliver one due subscription (locked, skipped by another worker), so each 2xx is committed at once."""
    stmt = (
        select(EpcisSubscription)
        .where(col(EpcisSubscription.next_attempt_at) <= now)
        .order_by(col(EpcisSubscription.next_attempt_at), col(EpcisSubscription.id))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    sub = session.exec(stmt).first()
    if sub is None:
        return DeliveryReport(0, 0, more=False)
    try:
        outcome = _deliver_one(session, sub, now, client)
    except TraceabilityError as exc:  # a stored query this version no longer parses: retried, never fatal
        sub.attempts += 1
        sub.last_error = exc.message[:500]
        sub.next_attempt_at = now + _backoff(sub.attempts)
        session.add(sub)
        outcome = "failed"
    return DeliveryReport(sent=int(outcome == "sent"), failed=int(outcome == "failed"), more=True)


def deliver_subscriptions(ctx: JobContext, client: httpx.Client | None = None) -> JobResult:
    """The worker job: one due subscription per transaction; ``more`` while any was due. Deliveries go through
    :func:`guarded_client` (the settings say whether private addresses are allowed) unless a client is given."""
    own = client is None
    http = client or guarded_client(allow_private=ctx.settings.epcis_webhook_allow_private)
    try:
        report = deliver_due(session=ctx.session, now=ctx.now, client=http)
    finally:
        if own:
            http.close()
    return JobResult({"delivered": report.sent, "failed": report.failed}, more=report.more)


def _job(ctx: JobContext) -> JobResult:
    return deliver_subscriptions(ctx)


JOBS = (Job("epcis.deliver_subscriptions", _job),)
