"""The figures of each role's overview (``/app/overview``): counted in the database, scoped to the caller's party.

Every figure is one aggregate query (``GROUP BY`` or conditional sums), so an overview costs the same with ten
alerts as with a million: no rows are loaded to be counted in Python. A partner's figures go through the same
scoping as its lists (``scope_to_party``): a distributor's overview counts only what names it. The settlement
figures (a distributor's rebate standing, a store's fee, finance's totals) are the settlement service's own, so the
overview never disagrees with the statement or the settlement page.

"Today" and "this month" are the brand policy's calendar (its ``timezone``), as in settlement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func
from sqlalchemy import select as _select
from sqlmodel import Session, col

from rebates.policy import Policy
from settlement import service as settle
from settlement.periods import period_of
from traceability.auth.service import Principal, scope_to_party
from traceability.models import (
    Alert,
    AlertStatus,
    ApiKey,
    Code,
    CodeStatus,
    Party,
    PrintJob,
    Product,
    Shipment,
    Task,
)
from traceability.models.base import utcnow
from web.partner_pages import period_choices
from web.service import party_names, territory_names

__all__ = [
    "OPEN_ALERTS",
    "WEEKS",
    "AdminFigures",
    "AuditorFigures",
    "DistributorFigures",
    "FinanceFigures",
    "PlantFigures",
    "StoreFigures",
    "admin_figures",
    "auditor_figures",
    "day_bounds",
    "distributor_figures",
    "finance_figures",
    "plant_figures",
    "store_figures",
    "week_starts",
]

OPEN_ALERTS = (AlertStatus.unverified, AlertStatus.open, AlertStatus.investigating)
"""The alerts still waiting for someone: not yet confirmed, dismissed or withdrawn."""
WEEKS = 8
TOP = 10
"""How many distributors, territories or jobs a chart names (the table beside it says how many more)."""


def sa_select(*columns: Any) -> Any:
    """``select`` of SQLModel attributes, which mypy sees as plain values rather than columns."""
    return _select(*columns)


def _zone(policy: Policy) -> ZoneInfo:
    return ZoneInfo(policy.timezone)


def day_bounds(policy: Policy, now: datetime | None = None) -> tuple[date, datetime, datetime]:
    """Today in the policy's time zone, and its [midnight, next midnight) in UTC."""
    zone = _zone(policy)
    local = (now or utcnow()).astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    return local.date(), midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC)


def week_starts(policy: Policy, now: datetime | None = None, weeks: int = WEEKS) -> list[datetime]:
    """The Mondays (policy time zone, as UTC instants) that start the last ``weeks`` weeks, this week last, and the
    Monday after it: ``weeks + 1`` bounds."""
    today, _, _ = day_bounds(policy, now)
    monday = today - timedelta(days=today.weekday())
    zone = _zone(policy)
    days = [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks + 1)]
    return [datetime(d.year, d.month, d.day, tzinfo=zone).astimezone(UTC) for d in days]


def _counts(session: Session, stmt: Any) -> dict[str, int]:
    return {str(k): int(n) for k, n in session.execute(stmt).all()}


def _open_alerts(principal: Principal, *columns: Any) -> Any:
    stmt = sa_select(*columns).where(col(Alert.status).in_([s.value for s in OPEN_ALERTS]))
    return scope_to_party(stmt, principal, Alert.party_id, Alert.responsible_distributor_id)


def _open_by_kind(session: Session, principal: Principal) -> dict[str, int]:
    stmt = _open_alerts(principal, Alert.kind, func.count()).group_by(col(Alert.kind)).order_by(col(Alert.kind))
    return _counts(session, stmt)


# --- distributor --------------------------------------------------------------------------------------------------


@dataclass
class DistributorFigures:
    day: date
    shipments_today: dict[str, int]
    """Shipments opened today, by status (open, closed, cancelled)."""
    open_shipments: int
    """Every shipment still open, whenever opened."""
    warnings: dict[str, int]
    """Open alerts naming the distributor (as the place or as the responsible distributor), by kind."""
    period: str
    line: settle.DistributorLine | None
    """This month's settlement line so far (None: nothing bought this month yet)."""


def distributor_figures(*, session: Session, principal: Principal, policy: Policy,
                        now: datetime | None = None) -> DistributorFigures:  # fmt: skip
    """A distributor's day: its shipments today, its open warnings, and this month's rebate standing."""
    day, start, end = day_bounds(policy, now)
    mine = scope_to_party(sa_select(Shipment.status, func.count()), principal, Shipment.party_id)
    today = _counts(session, mine.where(col(Shipment.opened_at) >= start, col(Shipment.opened_at) < end)
                    .group_by(col(Shipment.status)))  # fmt: skip
    still_open = scope_to_party(sa_select(func.count()).select_from(Shipment), principal, Shipment.party_id)
    open_n = int(session.execute(still_open.where(col(Shipment.status) == "open")).scalar_one())
    period = period_of(now or utcnow(), policy.timezone)
    result = settle.statement_for(session=session, principal=principal, period=period, policy=policy)
    line = next((d for d in result.distributors if d.party == principal.party_id), None)
    return DistributorFigures(day=day, shipments_today=today, open_shipments=open_n,
                              warnings=_open_by_kind(session, principal), period=period, line=line)  # fmt: skip


# --- auditor ------------------------------------------------------------------------------------------------------


@dataclass
class AuditorFigures:
    by_kind: dict[str, int]
    by_distributor: list[tuple[str, str, int]]
    """(id, name, open alerts), most first; alerts with no responsible distributor are under id ``""``."""
    by_territory: list[tuple[str, str, int]]
    weeks: list[tuple[date, int]]
    """Alerts first seen in each of the last weeks (Monday, count), oldest first, every status but withdrawn."""
    total_open: int
    more_distributors: int = 0
    more_territories: int = 0


def _ranked(session: Session, principal: Principal, column: Any) -> list[tuple[str, int]]:
    stmt = (_open_alerts(principal, column, func.count().label("n")).group_by(column)
            .order_by(func.count().desc(), column))  # fmt: skip
    return [(k or "", int(n)) for k, n in session.execute(stmt).all()]


def auditor_figures(*, session: Session, principal: Principal, policy: Policy,
                    now: datetime | None = None) -> AuditorFigures:  # fmt: skip
    """The open alerts by kind, by responsible distributor and by territory (names), and the weekly trend."""
    by_kind = _open_by_kind(session, principal)
    dist = _ranked(session, principal, col(Alert.responsible_distributor_id))
    terr = _ranked(session, principal, col(Alert.territory_id))
    names = party_names(session=session, ids={d for d, _ in dist[:TOP] if d})
    places = territory_names(session=session, ids={t for t, _ in terr[:TOP] if t})
    bounds = week_starts(policy, now)
    sums = [func.sum(case((and_(col(Alert.first_seen) >= lo, col(Alert.first_seen) < hi), 1), else_=0))
            for lo, hi in zip(bounds, bounds[1:], strict=False)]  # fmt: skip
    trend = sa_select(*sums).where(col(Alert.status) != AlertStatus.withdrawn.value,
                                   col(Alert.first_seen) >= bounds[0], col(Alert.first_seen) < bounds[-1])
    trend = scope_to_party(trend, principal, Alert.party_id, Alert.responsible_distributor_id)
    counts = session.execute(trend).one()
    zone = _zone(policy)
    return AuditorFigures(
        by_kind=by_kind,
        by_distributor=[(d, names.get(d, d), n) for d, n in dist[:TOP]],
        by_territory=[(t, places.get(t, t), n) for t, n in terr[:TOP]],
        weeks=[(lo.astimezone(zone).date(), int(n or 0)) for lo, n in zip(bounds, counts, strict=False)],
        total_open=sum(by_kind.values()), more_distributors=max(len(dist) - TOP, 0),
        more_territories=max(len(terr) - TOP, 0),
    )  # fmt: skip


# --- finance ------------------------------------------------------------------------------------------------------


@dataclass
class FinanceFigures:
    periods: list[tuple[str, str]]
    """(period, open | locked), newest first: the open ones since the last lock, then the locked ones."""
    current: str
    next_to_lock: str | None
    """The oldest open period that has ended: the one the next lock takes (periods lock in order)."""
    totals: list[dict[str, str]]
    """The settlement totals per currency of ``totals_period``."""
    totals_period: str
    status_counts: dict[str, int] = field(default_factory=dict)


def finance_figures(*, session: Session, policy: Policy, now: datetime | None = None) -> FinanceFigures:
    """The periods with their status, the next one to lock, and the totals it would settle to today."""
    choices = period_choices(session=session, policy=policy, now=now)
    current = period_of(now or utcnow(), policy.timezone)
    ended = sorted(c.period for c in choices if c.status == "open" and c.period < current)
    next_to_lock = ended[0] if ended else None
    shown = next_to_lock or current
    totals = settle.run_settlement(session=session, period=shown, policy=policy).totals()
    counts = {"open": sum(c.status == "open" for c in choices), "locked": sum(c.status == "locked" for c in choices)}
    return FinanceFigures(periods=[(c.period, c.status) for c in choices], current=current, next_to_lock=next_to_lock,
                          totals=totals, totals_period=shown, status_counts=counts)  # fmt: skip


# --- plant --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobGap:
    job_id: int
    product: str
    printed: int
    """Labels printed (every code of the job past ``generated``; one voided before printing excluded)."""
    accounted: int
    """Printed labels applied to goods (commissioned or further) or voided."""
    loose: int
    """Printed, neither applied nor voided: labels that may be loose."""


@dataclass
class PlantFigures:
    jobs: dict[str, int]
    """The plant's print jobs by state."""
    gaps: list[JobGap]
    """The jobs with loose labels, most first."""
    loose: int
    """Loose labels over every job of the plant."""
    more: int = 0


_ACCOUNTED = (CodeStatus.commissioned, CodeStatus.shipped, CodeStatus.received, CodeStatus.sold, CodeStatus.voided)


def plant_figures(*, session: Session, principal: Principal) -> PlantFigures:
    """The plant's jobs by state and where printed labels are not yet accounted for (applied or voided)."""
    jobs = _counts(session, scope_to_party(sa_select(PrintJob.status, func.count()), principal, PrintJob.party_id)
                   .group_by(col(PrintJob.status)))  # fmt: skip
    status = col(Code.status)
    # A voided code counts as printed and accounted for; "printed" codes are the loose ones (labels.reconcile's
    # difference less the codes never printed).
    per_job = (
        sa_select(PrintJob.id, Product.name,
                  func.sum(case((status != CodeStatus.generated.value, 1), else_=0)),
                  func.sum(case((status.in_([s.value for s in _ACCOUNTED]), 1), else_=0)),
                  func.sum(case((status == CodeStatus.printed.value, 1), else_=0)).label("loose"))
        .join(Code, col(Code.batch_id) == col(PrintJob.batch_id))
        .join(Product, col(Product.gtin) == col(PrintJob.gtin))
        .group_by(col(PrintJob.id), col(Product.name))
    )  # fmt: skip
    per_job = scope_to_party(per_job, principal, PrintJob.party_id)
    gaps = [JobGap(int(j), name, int(p or 0), int(a or 0), int(n or 0))
            for j, name, p, a, n in session.execute(per_job)]  # fmt: skip
    loose = sorted((g for g in gaps if g.loose > 0), key=lambda g: (-g.loose, -g.job_id))
    return PlantFigures(jobs=jobs, gaps=loose[:TOP], loose=sum(g.loose for g in loose), more=max(len(loose) - TOP, 0))


# --- store --------------------------------------------------------------------------------------------------------


@dataclass
class StoreFigures:
    day: date
    units_sold: int
    member_units: int
    free_units: int
    period: str
    line: settle.StoreLine | None
    """This month's settlement line so far: its fee (None: nothing sold this month)."""
    tasks: dict[str, int]
    """Today's calls at the store, by status."""


def store_figures(*, session: Session, principal: Principal, policy: Policy,
                  now: datetime | None = None) -> StoreFigures:  # fmt: skip
    """A store's day: sales today, the fee so far this month (its settlement line) and today's calls by status."""
    summary = settle.store_summary(session=session, principal=principal, policy=policy, now=now)
    day = summary.today.day
    tasks = _counts(session, sa_select(Task.status, func.count()).where(
        col(Task.store_id) == principal.party_id, col(Task.opens) <= day, col(Task.due) >= day,
    ).group_by(col(Task.status)))  # fmt: skip
    line = next((s for s in summary.month.stores if s.party == principal.party_id), None)
    return StoreFigures(day=day, units_sold=summary.today.units_sold, member_units=summary.today.member_units,
                        free_units=summary.today.free_units, period=summary.month.period, line=line,
                        tasks=tasks)  # fmt: skip


# --- admin --------------------------------------------------------------------------------------------------------


@dataclass
class AdminFigures:
    parties: dict[str, int]
    keys: dict[str, int]
    """API keys: ``active`` and ``revoked``."""
    alerts: int
    """Open alerts (every party)."""


def admin_figures(*, session: Session, principal: Principal) -> AdminFigures:
    """How big the network is (parties by kind), its keys, and the alerts waiting."""
    parties = _counts(session, sa_select(Party.kind, func.count()).group_by(col(Party.kind)).order_by(col(Party.kind)))
    revoked = col(ApiKey.revoked_at).is_not(None)
    key_row = session.execute(sa_select(func.sum(case((revoked, 0), else_=1)), func.sum(case((revoked, 1), else_=0)))
                              ).one()  # fmt: skip
    alerts = int(session.execute(_open_alerts(principal, func.count())).scalar_one())
    return AdminFigures(parties=parties, keys={"active": int(key_row[0] or 0), "revoked": int(key_row[1] or 0)},
                        alerts=alerts)  # fmt: skip
