"""Diversion alerts: derived at capture time, re-derived in full on demand, and worked as cases by auditors.

:data:`diversion_listener` is wired into the ledger by the assembly, so that every capture (EPCIS, scan API, CLI) and
every scan rejected as counterfeit updates the alerts inside the same transaction. Both paths, and the
full re-evaluation, re-derive the alerts of the codes concerned from the store with the same rules
(:func:`flow_graph.rules.evaluate_unit`) and then reconcile the stored alerts with what they found: new findings are
raised, changed ones updated, and alerts that no longer hold are withdrawn with the reason (and reopened if they
come back). That is why the incremental alerts equal the full re-evaluation and do not depend on arrival order.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, or_
from sqlmodel import Session, col

from flow_graph import details
from flow_graph.errors import AlertNotFound, InvalidFilter, InvalidTransition
from flow_graph.history import (
    FlowView,
    case_gtins,
    code_partitions,
    count_codes,
    epcs_as_captured,
    history_of,
    load_masterdata,
    load_partition,
    load_view,
)
from flow_graph.rules import COUNTERFEIT_REASONS, Finding, MasterData, evaluate_unit, known
from ledger.bulk import insert_rows
from ledger.history import (
    EventRow,
    StoredEvent,
    affected_keys,
    chunks,
    codes_recorded,
    known_code_facts,
    named_in,
    no_gc,
    query,
    retracted_ids,
    rows,
)
from ledger.keys import gtin_of, is_sgtin_key, key_of, serial_of
from ledger.state import rederive_recorded
from ledger.store import Listener, lock_store
from traceability.auth.service import Principal, scope_to_party
from traceability.errors import InvalidInput
from traceability.i18n import Catalogue, messages, wording
from traceability.models import (
    Alert,
    AlertKind,
    AlertNote,
    AlertStatus,
    Code,
    CodeLevel,
    CodeStatus,
    CounterfeitScan,
    EventEpc,
    RejectedScan,
    Territory,
)
from traceability.models.base import utcnow
from traceability.search import contains, needle, parties_named, row_number
from traceability.settings import get_settings

__all__ = [
    "ACTIVE",
    "TRANSITIONS",
    "UNSET",
    "AlertCase",
    "AlertFilter",
    "Reconciliation",
    "add_note",
    "alert_case",
    "alert_event_ids",
    "alert_history",
    "clock_skew",
    "count_alerts",
    "get_alert",
    "diversion_listener",
    "list_alerts",
    "parse_period",
    "reevaluate",
    "refresh_units",
    "update_alert",
    "update_alerts",
    "utc",
]

ACTIVE = (
    AlertStatus.unverified, AlertStatus.open, AlertStatus.investigating, AlertStatus.confirmed, AlertStatus.dismissed,
)  # fmt: skip
"""Every status but ``withdrawn``: the alerts that exist. A withdrawn alert is history, kept with its reason."""

TRANSITIONS: dict[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.unverified: frozenset({AlertStatus.open, AlertStatus.confirmed, AlertStatus.dismissed}),
    AlertStatus.open: frozenset({AlertStatus.investigating}),
    AlertStatus.investigating: frozenset({AlertStatus.confirmed, AlertStatus.dismissed, AlertStatus.open}),
    AlertStatus.confirmed: frozenset({AlertStatus.investigating}),
    AlertStatus.dismissed: frozenset({AlertStatus.investigating}),
    AlertStatus.withdrawn: frozenset(),
}
"""The case workflow: open → investigating → confirmed or dismissed; a closed case may be reopened for investigation.
An unverified alert (anonymous sightings only) is opened, confirmed or dismissed by an auditor who checked it."""

SYSTEM = "system"


@dataclass
class Reconciliation:
    """What one derivation changed in the stored alerts."""

    evaluated: int = 0
    raised: int = 0
    updated: int = 0
    withdrawn: int = 0
    reopened: int = 0
    unchanged: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def add(self, other: Reconciliation) -> None:
        """Count another part's changes in (a re-evaluation reconciles partition by partition)."""
        for name, value in other.__dict__.items():
            setattr(self, name, getattr(self, name) + value)


# --- deriving ---------------------------------------------------------------------------------------------------


def clock_skew() -> timedelta:
    """The clone rule's clock-skew tolerance: ``TRACEABILITY_CLONE_CLOCK_SKEW_MINUTES``, default 10.

    A setting rather than a policy entry: it describes the scanners' clocks, not a commercial rule, and the capture
    listener runs inside every capture with nothing but the session, so it reads the process's settings here.
    """
    return timedelta(minutes=get_settings().clone_clock_skew_minutes)


def _evaluate(view: FlowView, md: MasterData, keys: Iterable[str]) -> list[Finding]:
    skew = clock_skew()
    return [f for key in keys for f in evaluate_unit(history_of(view, key), md, clock_skew=skew)]


def refresh_units(*, session: Session, keys: Iterable[str]) -> Reconciliation:
    """Re-derive the alerts of these codes from the store and reconcile the stored ones (the capture-time path)."""
    wanted = set(keys)
    if not wanted:
        return Reconciliation()
    view = load_view(session, wanted)
    md = load_masterdata(session, view.parties())
    evaluated = sorted(k for k in wanted if is_sgtin_key(k) or k in view.rejections)
    result = _reconcile(session, view, md, _evaluate(view, md, evaluated), scope=set(evaluated))
    result.evaluated = len(evaluated)
    return result


PARTITION = 10_000
"""Codes per partition of a full re-evaluation: memory holds one partition's histories, not the store's."""

Progress = Callable[[int, int], None]
"""Told (keys done, keys in all) after each partition of a full re-evaluation."""


def reevaluate(*, session: Session, partition: int = PARTITION, progress: Progress | None = None) -> Reconciliation:
    """Derive every alert from the whole store and reconcile: the same alerts the captures raised, or the fix.

    The store is walked a partition of codes at a time, in key order (:func:`flow_graph.history.code_partitions`):
    each partition's histories are read set-based (:func:`flow_graph.history.load_partition`: a range scan, then
    their containers' events and records level by level), evaluated, reconciled and let go, so memory is bounded
    by ``partition``, not by the store. All of it is one transaction under the store lock: the caller commits, and
    until then no reader sees a half-done reconciliation (docs/diversion.md, "The full re-evaluation, partition by
    partition").
    """
    lock_store(session)  # captures wait: the store does not move under the evaluation
    _index_rejections(session, None)
    md = load_masterdata(session)
    now = utcnow()  # one moment for every change, as one reconciliation of everything would stamp them
    total = count_codes(session) if progress is not None else 0
    result, done = Reconciliation(), 0
    # The collector stays off for the whole walk: each partition's view is millions of acyclic rows, which the
    # automatic collections would traverse again and again while they live. What a partition leaves behind in
    # cycles (the ORM's alert rows) is collected when its view has gone, from the young generation alone.
    with no_gc():
        for part in code_partitions(session, max(1, partition)):
            view = load_partition(session, part)
            keys = sorted(k for k in part.keys if _evaluated(view, k))
            findings = _evaluate(view, md, keys)
            # every key with a stored alert between the first and the last is one of the partition's: range reads
            between = (part.first, part.last)
            _learn_retractions(session, view, between)
            result.add(_reconcile(session, view, md, findings, scope=set(part.keys), between=between, now=now))
            result.evaluated += len(keys)
            done += part.scanned
            del view, findings
            gc.collect(0)
            if progress is not None:
                progress(done, total)
    return result


def _evaluated(view: FlowView, key: str) -> bool:
    """Whether the full re-evaluation derives alerts for ``key``: a unit some event names or that a packing record
    puts in a case (the case's events reach it, as the capture listener finds), or a key with counterfeit
    evidence. A unit in a case only by its record, left out, had its alerts withdrawn by every re-evaluation."""
    if key in view.rejections:
        return True
    if not is_sgtin_key(key):
        return False
    facts = view.codes.get(key)
    return key in view.direct or (facts is not None and facts.parent is not None)


_EVIDENCE_BETWEEN = query(Alert.event_ids).where(col(Alert.unit_key).between(bindparam("lo"), bindparam("hi")))


def _learn_retractions(session: Session, view: FlowView, between: tuple[str, str]) -> None:
    """Add to the view which evidence of the stored alerts of a partition (its keys ``between`` the first and the
    last) was retracted, where the view did not load that event (its container no longer holds the code): a
    withdrawal names the retraction as it did with the whole store in view."""
    loaded = {e.event_id for e in view.events.values()}
    unseen: set[str] = set()
    for (ids,) in rows(session, _EVIDENCE_BETWEEN, {"lo": between[0], "hi": between[1]}):
        unseen.update(i for i in json.loads(ids) if i not in loaded)
    if unseen:
        view.retracted |= retracted_ids(session, unseen)


def _values(f: Finding, epc: str) -> dict[str, Any]:
    return {
        "epc": epc[:300],
        "responsible_distributor_id": f.responsible,
        "territory_id": f.territory,
        "event_ids": json.dumps(f.event_ids),
        "rejected_scan_ids": json.dumps(list(f.rejected)),
        "detail": f.detail,
        "first_seen": f.first_seen,
        "last_seen": f.last_seen,
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a.replace(tzinfo=a.tzinfo or UTC) == b.replace(tzinfo=b.tzinfo or UTC)
    return bool(a == b)


_WORDS: Catalogue = messages("flow_graph.service:words")
_STATUS_WORDS: Catalogue = messages("flow_graph.service:status_words")


@dataclass(frozen=True, slots=True)
class _Statuses:
    """Alert statuses a refusal quotes, named in the refusal's language (``traceability.errors.Worded``): the
    machine value stays in the problem's fields."""

    values: tuple[str, ...]

    def text(self, lang: str) -> str:
        return ("、" if lang == "zh-CN" else ", ").join(wording(_STATUS_WORDS, v, lang) for v in self.values)

_ALERTS = query(Alert).order_by(col(Alert.id))
_ALERTS_OF = _ALERTS.where(col(Alert.unit_key).in_(bindparam("keys", expanding=True)))
_ALERTS_BETWEEN = _ALERTS.where(col(Alert.unit_key).between(bindparam("lo"), bindparam("hi")))


def _stored(session: Session, scope: set[str] | None, between: tuple[str, str] | None = None) -> list[Alert]:
    if between is not None:
        return list(session.execute(_ALERTS_BETWEEN, {"lo": between[0], "hi": between[1]}).scalars())
    if scope is None:
        return list(session.execute(_ALERTS).scalars())
    out: list[Alert] = []
    ordered = sorted(scope)
    for start in range(0, len(ordered), 500):
        out.extend(session.execute(_ALERTS_OF, {"keys": ordered[start : start + 500]}).scalars())
    return out


def _withdraw_reason(alert: Alert, view: FlowView, md: MasterData) -> str:
    gone = [i for i in json.loads(alert.event_ids) if i in view.retracted]
    if gone:
        return details.write_note("retracted", events=", ".join(gone))
    if alert.kind == AlertKind.counterfeit_suspected:
        why = known(history_of(view, alert.unit_key), md)
        if isinstance(why, EventRow):
            return details.write_note("known_event", party=why.location or why.source, event=why.event_id)
        if why:
            return details.write_note("known_issued")
    return details.write_note("no_longer")


def _reconcile(
    session: Session,
    view: FlowView,
    md: MasterData,
    findings: Sequence[Finding],
    *,
    scope: set[str] | None,
    between: tuple[str, str] | None = None,
    now: datetime | None = None,
) -> Reconciliation:
    """Make the stored alerts of ``scope`` (None: all) equal the findings: raise, update, withdraw, reopen.

    ``between`` (first, last): the stored alerts of ``scope`` are exactly those of the keys in that range (a
    partition of the full re-evaluation), read with one range scan instead of lists of keys."""
    result = Reconciliation()
    desired = {(f.kind.value, f.key, f.party): f for f in findings}
    epcs = epcs_as_captured(session, view, {f.key for f in findings}) if findings else {}
    now = now or utcnow()
    notes: list[dict[str, Any]] = []
    for alert in _stored(session, scope, between):
        finding = desired.pop((str(alert.kind), alert.unit_key, alert.party_id), None)
        if finding is None:
            if alert.status != AlertStatus.withdrawn:
                reason = _withdraw_reason(alert, view, md)
                notes.append(_note(alert, "withdrawn", AlertStatus.withdrawn, reason, now))
                alert.status, alert.withdrawn_at, alert.withdrawn_reason = AlertStatus.withdrawn, now, reason
                alert.status_changed_at = alert.updated_at = now
                session.add(alert)
                result.withdrawn += 1
            continue
        values = _values(finding, epcs.get(finding.key, finding.key))
        changed = [name for name, value in values.items() if not _same(getattr(alert, name), value)]
        for name in changed:
            setattr(alert, name, values[name])
        if alert.status == AlertStatus.withdrawn:
            back = _raised_status(finding)
            again = details.write_note("raised_again", detail=finding.detail)
            notes.append(_note(alert, "reopened", back, again, now))
            alert.status, alert.withdrawn_at, alert.withdrawn_reason = back, None, None
            alert.status_changed_at = alert.updated_at = now
            session.add(alert)
            result.reopened += 1
        elif alert.status == AlertStatus.unverified and finding.verified:
            notes.append(_note(alert, "status", AlertStatus.open, details.write_note("verified"), now))
            alert.status, alert.status_changed_at = AlertStatus.open, now
            alert.updated_at = now
            session.add(alert)
            result.updated += 1
        elif changed:
            alert.updated_at = now
            session.add(alert)
            result.updated += 1
        else:
            result.unchanged += 1
    rows = [
        {"kind": f.kind.value, "unit_key": f.key, "party_id": f.party, "status": _raised_status(f).value,
         "created_at": now, "updated_at": now, "status_changed_at": now,
         **_values(f, epcs.get(f.key, f.key))}
        for f in desired.values()
    ]  # fmt: skip
    session.flush()
    if rows:
        insert_rows(session, Alert, rows)
        result.raised = len(rows)
    if notes:
        session.execute(insert(AlertNote), notes)
    session.flush()
    return result


def _raised_status(finding: Finding) -> AlertStatus:
    """``open``, or ``unverified`` when the finding rests only on anonymous sightings (an auditor decides then).

    Once open (by a verified sighting or an auditor), an alert stays open if later only unverified evidence
    remains: the system never takes back an auditor's decision."""
    return AlertStatus.open if finding.verified else AlertStatus.unverified


def _note(alert: Alert, action: str, to: AlertStatus, text: str, at: datetime) -> dict[str, Any]:
    return {"alert_id": alert.id, "at": at, "author": SYSTEM, "action": action,
            "from_status": str(alert.status), "to_status": to.value, "text": text}  # fmt: skip


# --- listeners ----------------------------------------------------------------------------------------------------


_EPCS_OF = query(EventEpc.event_pk, EventEpc.key).where(
    col(EventEpc.event_pk).in_(bindparam("pks", expanding=True)), col(EventEpc.role) == "epc"
)


def _register_foreign_codes(session: Session, events: Sequence[StoredEvent]) -> None:
    """Record codes another serialization system issued, when a brand-owned party's commissioning names them."""
    candidates = {
        e.id: e for e in events
        if not e.declaration and e.biz_step == "commissioning" and e.action == "ADD" and e.event_type == "ObjectEvent"
    }  # fmt: skip
    if not candidates:
        return
    # The append's own identifier rows and view, not read back from the store (ledger.history.batch).
    by_event = named_in(session, sorted(pk for pk in candidates if pk is not None), _EPCS_OF, "epc")
    named = [(pk, key) for pk, found in by_event.items() for key, _ in found if is_sgtin_key(key)]
    existing = known_code_facts(session, {key for _, key in named})
    named = [(pk, key) for pk, key in named if key not in existing]
    if not named:
        return  # our own codes, or foreign ones already recorded: the usual case costs two queries
    places = {p for e in candidates.values() for p in (e.location_party_id, e.source_party_id) if p}
    md = load_masterdata(session, places)
    brand = {pk: e for pk, e in candidates.items() if md.brand_owned(e.location_party_id or e.source_party_id)}
    declared = retracted_ids(session, (e.event_id for e in brand.values()))
    live = {pk: e for pk, e in brand.items() if e.event_id not in declared}
    holders = {key: live[pk].location_party_id for pk, key in named if pk in live}
    if not holders:
        return
    cases = case_gtins(session)
    new = []
    recorded: list[str] = []
    for key, holder in sorted(holders.items()):
        gtin, serial = gtin_of(key), serial_of(key)
        if gtin is None or serial is None or len(serial) > 20:
            continue
        recorded.append(key)
        level = CodeLevel.case if gtin in cases else CodeLevel.unit
        new.append({"level": level.value, "gtin": gtin, "serial": serial, "status": CodeStatus.commissioned.value,
                    "holder_id": holder if holder in md.parties else None, "created_at": utcnow()})  # fmt: skip
    if not new:
        return
    insert_rows(session, Code, new)
    codes_recorded(session, recorded)  # the append's shared view was read before these records existed
    # Capture derived unit states before this listener ran: give the new records theirs when other events about
    # them are stored already (the commissioning came late, or with its packing in one document).
    # In chunks: a document may commission more codes than one statement can bind.
    for chunk in chunks(sorted(holders)):
        named_by = rows(session, query(EventEpc.event_pk).where(col(EventEpc.key).in_(chunk))).scalars()
        if any(pk not in live for pk in named_by):
            rederive_recorded(session, list(live.values()), recorded)
            break


def _raw_key(raw: str) -> str:
    return "raw:" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _index_rejections(session: Session, rejected: Sequence[RejectedScan] | None) -> set[str]:
    """Index counterfeit-evidence rejections by the code they name (all not yet indexed, when ``rejected`` is None)."""
    if rejected is None:
        indexed = query(CounterfeitScan.rejected_scan_id)
        stmt = query(RejectedScan).where(
            col(RejectedScan.reason).in_(sorted(COUNTERFEIT_REASONS)), col(RejectedScan.id).not_in(indexed)
        )
        rejected = list(session.execute(stmt).scalars())
    rows: list[dict[str, Any]] = []
    for r in rejected:
        if r.reason not in COUNTERFEIT_REASONS or r.id is None:
            continue
        if r.key is not None:  # the scan parser's key, stored with the rejection
            key, epc = r.key, r.key
        else:
            key, epc = _raw_key(r.raw), r.raw[:300]
        received = r.received_at if r.received_at.tzinfo else r.received_at.replace(tzinfo=UTC)
        rows.append({"rejected_scan_id": r.id, "unit_key": key, "epc": epc, "party_id": r.party_id,
                     "reason": r.reason, "received_at": received})  # fmt: skip
    if not rows:
        return set()
    already = set(
        session.execute(
            query(CounterfeitScan.rejected_scan_id).where(
                col(CounterfeitScan.rejected_scan_id).in_([r["rejected_scan_id"] for r in rows])
            )
        ).scalars()
    )
    fresh = [r for r in rows if r["rejected_scan_id"] not in already]
    if fresh:
        session.execute(insert(CounterfeitScan), fresh)
        session.flush()
    return {r["unit_key"] for r in rows}


def _on_events_stored(session: Session, events: Sequence[StoredEvent]) -> None:
    """Capture-time detection: the alerts of every code the new events concern, re-derived before commit."""
    if not events:
        return
    session.flush()  # reads below go through the connection, past the ORM's autoflush
    _register_foreign_codes(session, events)
    refresh_units(session=session, keys=affected_keys(session, events))


def _on_scan_rejected(session: Session, rejected: Sequence[RejectedScan]) -> None:
    """A scan of ours that failed verification is counterfeit evidence at the scanning party."""
    keys = _index_rejections(session, rejected)
    if keys:
        refresh_units(session=session, keys=keys)


diversion_listener = Listener("diversion", events_stored=_on_events_stored, scans_rejected=_on_scan_rejected)
"""Alerts follow every capture and every scan of ours rejected as counterfeit."""


# --- the case workflow and queries --------------------------------------------------------------------------------


@dataclass
class AlertFilter:
    """What ``alerts list`` and ``GET /api/v1/alerts`` filter on; ``status`` None means every active status."""

    kind: Sequence[AlertKind] | None = None
    status: Sequence[AlertStatus] | None = None
    distributor: str | None = None
    territory: str | None = None
    party: str | None = None
    epc: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    period: str | None = None
    """``YYYY-MM``: the first evidence falls in that month (UTC)."""
    search: str | None = None
    """Free text: the alert's number, or text within its code or a named party's id or name (a page's search box)."""
    limit: int | None = None
    offset: int = 0


def utc(moment: datetime | None) -> datetime | None:
    """A filter bound as an aware UTC instant; a bound without an offset is read as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_period(period: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` to its [first instant, first instant of the next month) in UTC."""
    try:
        start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidFilter.keyed(_WORDS, "bad_period", period=period, detail={"period": period}) from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def _territories_within(session: Session, territory: str) -> list[str]:
    children: dict[str | None, list[str]] = {}
    for tid, parent in session.execute(query(Territory.id, Territory.parent_id)):
        children.setdefault(parent, []).append(tid)
    out, stack = [], [territory]
    while stack:
        node = stack.pop()
        if node not in out:
            out.append(node)
            stack.extend(children.get(node, ()))
    return out


def _alert_query(session: Session, filters: AlertFilter, principal: Principal | None, *columns: Any) -> Any:
    """The SELECT of the alerts matching the filters (the whole row, or ``columns``), scoped to the caller."""
    stmt = query(*columns) if columns else query(Alert)
    if filters.status:
        stmt = stmt.where(col(Alert.status).in_([AlertStatus(s).value for s in filters.status]))
    else:
        # ACTIVE, said as "not withdrawn": the queue then reads its order from ix_alert_queue instead of sorting
        # every active alert found through the status index
        stmt = stmt.where(col(Alert.status) != AlertStatus.withdrawn.value)
    if filters.kind:
        stmt = stmt.where(col(Alert.kind).in_([AlertKind(k).value for k in filters.kind]))
    if filters.distributor:
        stmt = stmt.where(col(Alert.responsible_distributor_id) == filters.distributor)
    if filters.party:
        stmt = stmt.where(col(Alert.party_id) == filters.party)
    if filters.territory:
        stmt = stmt.where(col(Alert.territory_id).in_(_territories_within(session, filters.territory)))
    if filters.epc:
        stmt = stmt.where(col(Alert.unit_key) == key_of(filters.epc))
    if filters.search:
        stmt = stmt.where(_matches(filters.search))
    if filters.period is not None:
        start, end = parse_period(filters.period)
        stmt = stmt.where(col(Alert.first_seen) >= start, col(Alert.first_seen) < end)
    if filters.since is not None:
        stmt = stmt.where(col(Alert.first_seen) >= utc(filters.since))
    if filters.until is not None:
        stmt = stmt.where(col(Alert.first_seen) < utc(filters.until))
    if principal is not None:
        stmt = scope_to_party(stmt, principal, Alert.party_id, Alert.responsible_distributor_id)  # type: ignore[arg-type]
    return stmt


def _matches(text: str) -> Any:
    """A free-text search: the alert's number, or the text within its code or within a named party's id or name."""
    wanted = needle(text)
    parties = parties_named(wanted)
    found: list[Any] = [contains(Alert.epc, wanted), col(Alert.party_id).in_(parties),
                        col(Alert.responsible_distributor_id).in_(parties)]  # fmt: skip
    if (number := row_number(wanted)) is not None:
        found.append(col(Alert.id) == number)
    return or_(*found)


def list_alerts(*, session: Session, filters: AlertFilter, principal: Principal | None = None) -> list[Alert]:
    """Alerts matching the filters, newest first; a non-auditor sees those naming its party (place or responsible)."""
    stmt = _alert_query(session, filters, principal)
    stmt = stmt.order_by(col(Alert.first_seen).desc(), col(Alert.id).desc()).offset(filters.offset)
    if filters.limit is not None:
        stmt = stmt.limit(filters.limit)
    return list(session.execute(stmt).scalars())


def count_alerts(*, session: Session, filters: AlertFilter, principal: Principal | None = None) -> int:
    """How many alerts :func:`list_alerts` would return without its limit and offset (one COUNT, for a pager)."""
    stmt = _alert_query(session, filters, principal, Alert.id).order_by(None)
    return int(session.execute(query(func.count()).select_from(stmt.subquery())).scalar_one())


def get_alert(*, session: Session, alert_id: int, principal: Principal | None = None) -> Alert:
    """One alert, or AlertNotFound when it does not exist or the caller may not see it."""
    stmt = query(Alert).where(col(Alert.id) == alert_id)
    if principal is not None:
        stmt = scope_to_party(stmt, principal, Alert.party_id, Alert.responsible_distributor_id)  # type: ignore[arg-type]
    alert: Alert | None = session.execute(stmt).scalars().first()
    if alert is None:
        raise AlertNotFound.keyed(_WORDS, "no_alert", alert=alert_id, detail={"alert": alert_id})
    return alert


def alert_history(*, session: Session, alert_id: int) -> list[AlertNote]:
    """The case history of an alert, oldest first."""
    stmt = query(AlertNote).where(col(AlertNote.alert_id) == alert_id).order_by(col(AlertNote.id))
    return list(session.execute(stmt).scalars())


@dataclass
class AlertCase:
    alert: Alert
    history: list[AlertNote]


def alert_case(*, session: Session, alert_id: int, principal: Principal | None = None) -> AlertCase:
    """An alert the caller may see, with its case history."""
    alert = get_alert(session=session, alert_id=alert_id, principal=principal)
    return AlertCase(alert=alert, history=alert_history(session=session, alert_id=alert_id))


def alert_event_ids(alert: Alert) -> list[str]:
    """The evidence of an alert as a list of eventIDs."""
    return list(json.loads(alert.event_ids))


UNSET: Any = object()
"""Marks a field an update leaves as it is (``assignee=None`` unassigns)."""


def update_alert(
    *,
    session: Session,
    alert_id: int,
    author: str,
    status: AlertStatus | None = None,
    assignee: str | None = UNSET,
    note: str | None = None,
) -> Alert:
    """Move an alert through the case workflow, assign it, or add a note; every change is kept in its history."""
    alert = get_alert(session=session, alert_id=alert_id)
    now = utcnow()
    notes: list[AlertNote] = []
    current = AlertStatus(alert.status)
    if status is not None and AlertStatus(status) != current:
        target = AlertStatus(status)
        if target not in TRANSITIONS[current]:
            allowed = _Statuses(tuple(sorted(s.value for s in TRANSITIONS[current])))
            why = f" ({alert.withdrawn_reason})" if current is AlertStatus.withdrawn else ""
            raise InvalidTransition.keyed(
                _WORDS, "cannot_move", alert=alert_id, status=_Statuses((current.value,)), why=why,
                allowed=allowed if allowed.values else InvalidTransition.keyed(_WORDS, "none"),
                detail={"status": current.value},
            )
        notes.append(AlertNote(alert_id=alert_id, at=now, author=author, action="status", from_status=current.value,
                               to_status=target.value, text=note or ""))  # fmt: skip
        alert.status, alert.status_changed_at = target, now
        note = None
    if assignee is not UNSET and assignee != alert.assignee:
        notes.append(AlertNote(alert_id=alert_id, at=now, author=author, action="assign",
                               text=details.write_note("assigned", assignee=assignee) if assignee
                               else details.write_note("unassigned")))  # fmt: skip
        alert.assignee = assignee
    if note:
        notes.append(AlertNote(alert_id=alert_id, at=now, author=author, action="note", text=note))
    if notes:
        alert.updated_at = now
        session.add(alert)
        session.add_all(notes)
        session.flush()
    return alert


def update_alerts(
    *,
    session: Session,
    alert_ids: Sequence[int],
    author: str,
    status: AlertStatus,
    note: str | None = None,
    principal: Principal | None = None,
) -> list[Alert]:
    """Move several alerts to one status with one note, each change kept in its own history as
    :func:`update_alert` keeps it; all or nothing: an alert the caller may not see, or one the workflow does not let
    move there, refuses the whole request before anything is written (the ids are in the error)."""
    wanted = sorted(set(alert_ids))
    stmt = query(Alert).where(col(Alert.id).in_(wanted))
    if principal is not None:
        stmt = scope_to_party(stmt, principal, Alert.party_id, Alert.responsible_distributor_id)  # type: ignore[arg-type]
    found = {a.id: a for a in session.execute(stmt).scalars()}
    missing = [i for i in wanted if i not in found]
    if missing or not wanted:
        raise AlertNotFound.keyed(_WORDS, "no_alert", alert=", ".join(map(str, missing)),
                                  detail={"alerts": missing, "reason": "alerts_not_found"})  # fmt: skip
    target = AlertStatus(status)
    stuck = [i for i in wanted if AlertStatus(found[i].status) != target
             and target not in TRANSITIONS[AlertStatus(found[i].status)]]  # fmt: skip
    if stuck:
        detail = {"alerts": stuck, "status": target.value, "reason": "bulk_transition"}
        raise InvalidTransition.keyed(_WORDS, "cannot_move_all", alerts=", ".join(map(str, stuck)),
                                      status=_Statuses((target.value,)), detail=detail)  # fmt: skip
    return [update_alert(session=session, alert_id=i, author=author, status=target, note=note) for i in wanted]


# --- a partner's answer -------------------------------------------------------------------------------------------

_NOTE_WORDS: Catalogue = messages("flow_graph.service")


def add_note(*, session: Session, alert_id: int, principal: Principal, text: str) -> AlertCase:
    """Append a note to an alert the principal may see (a distributor: one naming it); the alert itself is left
    untouched, whoever writes, so a partner answers a case and never moves one (status stays the auditor's)."""
    if not text.strip():
        raise InvalidInput.keyed(_NOTE_WORDS, "empty", detail={"field": "text"})
    try:
        get_alert(session=session, alert_id=alert_id, principal=principal)
    except AlertNotFound:
        raise AlertNotFound.keyed(_NOTE_WORDS, "not_found", alert=alert_id, detail={"alert": alert_id}) from None
    author = f"{principal.party_id} ({principal.role.value}, key {principal.api_key_id})"
    session.add(AlertNote(alert_id=alert_id, at=utcnow(), author=author, action="note", text=text.strip()))
    session.flush()
    return alert_case(session=session, alert_id=alert_id, principal=principal)
