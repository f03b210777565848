"""Period settlement: distributor rebates and store fees, computed in SQL, locked for good, restated forward.

How a period is settled (``docs/settlement.md`` gives every rule and its reason):

- Facts come from the ``sale`` and ``purchase`` rows the capture listener keeps (:mod:`rebates.facts`), grouped in
  SQL by party and GTIN; only that small result reaches Python, where prices (Decimal) make the money exact.
- Alerts come through :mod:`settlement.alerts`.
- Periods lock in order, each only once it has ended in the policy's time zone and its grace days have passed
  (:func:`lockable_from`), and an empty one only on purpose (``force``). A locked period is never computed again: a
  run returns its document as locked. The first open period after the last locked one (the *next open period*)
  restates every locked period whose facts or alerts changed, and books the difference to what was already paid as
  adjustments; locking it records the restatement, so each party's deltas for a period always add up to what it is
  owed for it: nothing is paid twice.
- A lock signs a checkpoint of the event chain's head under the same store lock (:func:`lock_period`) and keeps it
  in the locked document: whoever holds a copy of that document can later prove that no event the period was
  settled from has been rewritten since (``traceability epcis verify-chain --checkpoint``).
- Each partner sees its own figures (:func:`statement_for`, :func:`units_for`, :func:`store_summary`): the party
  filter goes into the queries, so a distributor's or a store's line is computed alone, and is the very line
  finance sees for it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, func
from sqlmodel import Session, col, select

from codes.keyfiles import KeyFileStore
from codes.service import key_store
from ledger.store import CHAIN_KEY_ID, Checkpoint, chain_key, lock_store, sign_checkpoint
from rebates.policy import Policy, RebateTier
from settlement.alerts import Diversion, diversion_by_distributor, flagged_sales
from settlement.errors import (
    EmptyPeriod,
    LockOutOfOrder,
    NoCheckpoint,
    NotYourParty,
    PartyRequired,
    PeriodLocked,
    PeriodNotEnded,
)
from settlement.periods import next_period, parse_period, period_bounds, period_of
from traceability.auth.service import Principal
from traceability.errors import NotFound
from traceability.i18n import Catalogue, messages
from traceability.models import (
    Dispatch,
    Member,
    Party,
    Product,
    Purchase,
    Redemption,
    Role,
    Sale,
    SettlementLine,
    SettlementPeriod,
)
from traceability.models.base import utcnow
from traceability.settings import get_settings

__all__ = [
    "Adjustment",
    "DistributorLine",
    "Settlement",
    "StoreDay",
    "StoreLine",
    "StoreSummary",
    "list_periods",
    "lock_checkpoint",
    "lock_period",
    "lockable_from",
    "run_settlement",
    "statement_for",
    "store_summary",
    "units_behind",
    "units_for",
]

CENT = Decimal("0.01")
BOOKS_START = datetime(1970, 1, 1, tzinfo=UTC)
"""Where the first locked period starts: facts dated before it (arriving late) are restated into it."""


def money(value: Decimal) -> Decimal:
    """Half-even to the cent, the one rounding rule for every amount."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _pct(value: Decimal) -> str:
    return f"{(value * 100).normalize():f} %"


def _fraction(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text if "." in text else text + ".0" if text != "0" else "0"


# --- lines --------------------------------------------------------------------------------------------------------


@dataclass
class DistributorLine:
    party: str
    name: str
    currency: str
    units_purchased: int
    units_scanned_out: int
    purchase_value: Decimal
    coverage: Decimal | None
    diverted_units: int
    alert_ids: list[int]
    rate: Decimal
    rebate: Decimal
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "name": self.name,
            "currency": self.currency,
            "units_purchased": self.units_purchased,
            "units_scanned_out": self.units_scanned_out,
            "purchase_value": str(self.purchase_value),
            "coverage": None if self.coverage is None else str(self.coverage),
            "diverted_units": self.diverted_units,
            "alert_ids": self.alert_ids,
            "rate": _fraction(self.rate),
            "rebate": str(self.rebate),
            "reason": self.reason,
        }


@dataclass
class StoreLine:
    party: str
    name: str
    currency: str
    units_sold: int
    flagged_units: int
    sales_value: Decimal
    """Value of the units sold that earn a fee (flagged ones left out)."""
    flagged_value: Decimal
    fee_rate: Decimal
    fee: Decimal
    alert_ids: list[int]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "name": self.name,
            "currency": self.currency,
            "units_sold": self.units_sold,
            "flagged_units": self.flagged_units,
            "sales_value": str(self.sales_value),
            "flagged_value": str(self.flagged_value),
            "fee_rate": _fraction(self.fee_rate),
            "fee": str(self.fee),
            "alert_ids": self.alert_ids,
            "reason": self.reason,
        }


@dataclass
class Adjustment:
    """A restated amount for a locked period, booked in this one: ``delta`` = ``amount`` − ``previously``."""

    for_period: str
    kind: str
    party: str
    name: str
    currency: str
    previously: Decimal
    amount: Decimal
    delta: Decimal
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "for_period": self.for_period,
            "kind": self.kind,
            "party": self.party,
            "name": self.name,
            "currency": self.currency,
            "previously": str(self.previously),
            "amount": str(self.amount),
            "delta": str(self.delta),
            "reason": self.reason,
        }


@dataclass
class Settlement:
    period: str
    status: str
    timezone: str
    starts_at: datetime
    ends_at: datetime
    policy: Policy
    distributors: list[DistributorLine] = field(default_factory=list)
    stores: list[StoreLine] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    locked_at: datetime | None = None
    checkpoint: Checkpoint | None = None
    """The chain head signed at the lock (None while open, and for periods locked before locks signed one)."""
    # Restated lines to record at lock (including ones whose amount did not change but whose figures did).
    _restated: list[SettlementLine] = field(default_factory=list, repr=False)

    def totals(self) -> list[dict[str, str]]:
        """Per currency: rebates, fees, adjustments and their sum, each the exact sum of its lines."""
        acc: dict[str, dict[str, Decimal]] = defaultdict(
            lambda: {"rebates": Decimal("0.00"), "fees": Decimal("0.00"), "adjustments": Decimal("0.00")}
        )
        for d in self.distributors:
            acc[d.currency]["rebates"] += d.rebate
        for s in self.stores:
            acc[s.currency]["fees"] += s.fee
        for a in self.adjustments:
            acc[a.currency]["adjustments"] += a.delta
        out = []
        for currency in sorted(acc):
            t = acc[currency]
            out.append({"currency": currency, "rebates": str(t["rebates"]), "fees": str(t["fees"]),
                        "adjustments": str(t["adjustments"]),
                        "payable": str(t["rebates"] + t["fees"] + t["adjustments"])})  # fmt: skip
        return out

    def as_dict(self) -> dict[str, Any]:
        """The settlement JSON contract (amounts and rates as decimal strings, a rate as a fraction); a locked one
        ends with its ``checkpoint``, an open one has none (its output is as it always was)."""
        out = {
            "period": self.period,
            "status": self.status,
            "timezone": self.timezone,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "locked_at": self.locked_at.isoformat() if self.locked_at else None,
            "policy": self.policy.model_dump(mode="json"),
            "distributors": [d.as_dict() for d in self.distributors],
            "stores": [s.as_dict() for s in self.stores],
            "adjustments": [a.as_dict() for a in self.adjustments],
            "totals": self.totals(),
        }
        if self.checkpoint is not None:
            out["checkpoint"] = self.checkpoint.as_dict()
        return out


def canonical(data: dict[str, Any]) -> str:
    """The one serialisation of a settlement: what is locked, hashed and compared."""
    return json.dumps(data, ensure_ascii=False, sort_keys=False, indent=2)


# --- figures ------------------------------------------------------------------------------------------------------


@dataclass
class _Prices:
    price: dict[str, tuple[Decimal, str]]

    @classmethod
    def load(cls, session: Session) -> _Prices:
        rows = session.exec(select(Product)).all()
        return cls({p.gtin: (Decimal(p.unit_price), p.currency) for p in rows})


@dataclass
class _DistFig:
    units: int = 0
    scanned_out: int = 0
    value: Decimal = Decimal("0.00")


@dataclass
class _StoreFig:
    units: int = 0
    value: Decimal = Decimal("0.00")
    flagged_units: int = 0
    flagged_value: Decimal = Decimal("0.00")
    alert_ids: set[int] = field(default_factory=set)


def _purchase_figures(
    session: Session, prices: _Prices, start: datetime, end: datetime, party: str | None = None
) -> dict[tuple[str, str], _DistFig]:
    """Per (distributor, currency): units bought from the brand, units scanned out, purchase value — one SQL scan
    (of one distributor's rows only, given ``party``)."""
    stmt = (
        select(Purchase.distributor_id, Purchase.gtin, func.count(),
               func.sum(case((col(Purchase.scanned_out).is_(True), 1), else_=0)))
        .where(col(Purchase.counted).is_(True), col(Purchase.event_time) >= start, col(Purchase.event_time) < end)
        .group_by(col(Purchase.distributor_id), col(Purchase.gtin))
    )  # fmt: skip
    if party is not None:
        stmt = stmt.where(col(Purchase.distributor_id) == party)
    out: dict[tuple[str, str], _DistFig] = defaultdict(_DistFig)
    for party, gtin, units, shipped in session.exec(stmt):
        if gtin not in prices.price:
            continue  # a unit of no product we sell has no price (and is a counterfeit alert anyway)
        price, currency = prices.price[gtin]
        fig = out[(party, currency)]
        fig.units += int(units)
        fig.scanned_out += int(shipped or 0)
        fig.value += price * int(units)
    return dict(out)


_REDEEMED_HERE = exists().where(col(Redemption.unit_key) == col(Sale.unit_key),
                                col(Redemption.store_id) == col(Sale.store_id))  # fmt: skip
"""A member's free unit (six-get-one) redeemed at the store that scanned it out: never a sale for fees (pos/)."""


def _sale_figures(
    session: Session, prices: _Prices, start: datetime, end: datetime, party: str | None = None
) -> dict[tuple[str, str], _StoreFig]:
    """Per (store, currency): units sold (each unit once) and their value — one SQL scan (of one store's rows only,
    given ``party``)."""
    stmt = (
        select(Sale.store_id, Sale.gtin, func.count())
        .where(col(Sale.counted).is_(True), col(Sale.event_time) >= start, col(Sale.event_time) < end)
        .where(~_REDEEMED_HERE)
        .group_by(col(Sale.store_id), col(Sale.gtin))
    )
    if party is not None:
        stmt = stmt.where(col(Sale.store_id) == party)
    out: dict[tuple[str, str], _StoreFig] = defaultdict(_StoreFig)
    for party, gtin, units in session.exec(stmt):
        if party is None or gtin not in prices.price:
            continue
        price, currency = prices.price[gtin]
        fig = out[(party, currency)]
        fig.units += int(units)
        fig.value += price * int(units)
    return dict(out)


def _add_flags(session: Session, prices: _Prices, figs: dict[tuple[str, str], _StoreFig], start: datetime,
               end: datetime, party: str | None = None) -> None:  # fmt: skip
    for f in flagged_sales(session=session, start=start, end=end, store=party):
        if f.store_id is None or f.gtin not in prices.price:
            continue
        price, currency = prices.price[f.gtin]
        fig = figs.get((f.store_id, currency))
        if fig is None:
            continue
        fig.flagged_units += 1
        fig.flagged_value += price
        fig.alert_ids.update(f.alert_ids)


def _tier(policy: Policy, units: int, scanned_out: int, diversion: Diversion) -> tuple[Decimal, str, Decimal | None]:
    """The rebate rate a distributor earns, the reason in words, and its coverage."""
    if units == 0:
        return Decimal("0"), "0 %: no units bought from the brand in the period", None
    coverage = (Decimal(scanned_out) / Decimal(units)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)
    exact = Decimal(scanned_out) / Decimal(units)
    share = Decimal(diversion.units) / Decimal(units)
    facts = (f"coverage {scanned_out}/{units} = {_pct(coverage)}, {diversion.units} attributed diverted unit(s)"
             f" ({len(diversion.alert_ids)} open or confirmed alert(s))")  # fmt: skip
    for tier in policy.rebate.tiers:
        if exact >= tier.min_coverage and _diversion_ok(tier, diversion, share):
            return tier.rate, f"{_pct(tier.rate)}: {facts}; meets {_describe(tier)}", coverage
    best = policy.rebate.tiers[-1] if policy.rebate.tiers else None
    missed = f"; misses {_describe(best)}" if best is not None else ""
    return Decimal("0"), f"0 %: {facts}{missed}", coverage


def _diversion_ok(tier: RebateTier, diversion: Diversion, share: Decimal) -> bool:
    if tier.max_diverted_share == 0:
        return not diversion.has_alert
    return share <= tier.max_diverted_share


def _describe(tier: RebateTier) -> str:
    alerts = ("no open or confirmed diversion alert" if tier.max_diverted_share == 0
              else f"diverted ≤ {_pct(tier.max_diverted_share)} of units received")  # fmt: skip
    return f"coverage ≥ {_pct(tier.min_coverage)} and {alerts}"


@dataclass
class _Context:
    names: dict[str, str]
    member: dict[str, bool]

    @classmethod
    def load(cls, session: Session) -> _Context:
        rows = session.exec(select(Party.id, Party.name, Party.member_store_no)).all()
        return cls(names={p: n for p, n, _ in rows}, member={p: bool(m) for p, _, m in rows})


def _distributor_lines(
    policy: Policy, ctx: _Context, figs: dict[tuple[str, str], _DistFig], diversions: dict[str, Diversion]
) -> list[DistributorLine]:
    per_party: dict[str, list[tuple[str, _DistFig]]] = defaultdict(list)
    for (party, currency), fig in figs.items():
        per_party[party].append((currency, fig))
    lines = []
    for party in sorted(per_party):
        units = sum(f.units for _, f in per_party[party])
        out = sum(f.scanned_out for _, f in per_party[party])
        diversion = diversions.get(party, Diversion())
        rate, reason, coverage = _tier(policy, units, out, diversion)
        for currency, fig in sorted(per_party[party], key=lambda x: x[0]):
            lines.append(DistributorLine(
                party=party, name=ctx.names.get(party, party), currency=currency, units_purchased=fig.units,
                units_scanned_out=fig.scanned_out, purchase_value=money(fig.value), coverage=coverage,
                diverted_units=diversion.units, alert_ids=list(diversion.alert_ids), rate=rate,
                rebate=money(rate * fig.value), reason=reason,
            ))  # fmt: skip
    return lines


def _store_lines(policy: Policy, ctx: _Context, figs: dict[tuple[str, str], _StoreFig]) -> list[StoreLine]:
    lines = []
    for party, currency in sorted(figs):
        fig = figs[(party, currency)]
        paid_value = fig.value - fig.flagged_value
        if policy.store_fee.member_stores_only and not ctx.member.get(party, False):
            rate, why = Decimal("0"), "not a member store: no fee"
        else:
            rate = policy.store_fee.rate
            why = f"{_pct(rate)} of {money(paid_value)} ({fig.units - fig.flagged_units} unit(s) sold)"
        if fig.flagged_units:
            why += (
                f"; {fig.flagged_units} flagged sale(s) not paid (alerts {', '.join(map(str, sorted(fig.alert_ids)))})"
            )
        lines.append(StoreLine(
            party=party, name=ctx.names.get(party, party), currency=currency, units_sold=fig.units,
            flagged_units=fig.flagged_units, sales_value=money(paid_value), flagged_value=money(fig.flagged_value),
            fee_rate=rate,
            fee=money(rate * paid_value), alert_ids=sorted(fig.alert_ids), reason=why,
        ))  # fmt: skip
    return lines


@dataclass(frozen=True)
class _Only:
    """One party's lines of one kind (``distributor`` or ``store``): the filter a partner's view puts in every query.

    Every figure of a line depends on its own party's rows alone (its purchases, sales, flags and attributed
    alerts), so the line computed alone is the line computed with all the others."""

    kind: str
    party: str

    def wants(self, kind: str) -> bool:
        return self.kind == kind


def _wants(only: _Only | None, kind: str) -> bool:
    return only is None or only.wants(kind)


def _party(only: _Only | None) -> str | None:
    return only.party if only is not None else None


def _compute(session: Session, policy: Policy, start: datetime, end: datetime, ctx: _Context, prices: _Prices,
             heavy: tuple[dict[tuple[str, str], _DistFig], dict[tuple[str, str], _StoreFig]] | None = None,
             only: _Only | None = None) -> tuple[list[DistributorLine], list[StoreLine]]:  # fmt: skip
    party = _party(only)
    if heavy is None:
        dist = _purchase_figures(session, prices, start, end, party) if _wants(only, "distributor") else {}
        stores = _sale_figures(session, prices, start, end, party) if _wants(only, "store") else {}
    else:
        dist, stores = heavy
    if _wants(only, "store"):
        _add_flags(session, prices, stores, start, end, party)
    diversions = (diversion_by_distributor(session=session, start=start, end=end, distributor=party)
                  if _wants(only, "distributor") else {})  # fmt: skip
    return _distributor_lines(policy, ctx, dist, diversions), _store_lines(policy, ctx, stores)


# --- periods, restatements and locking ----------------------------------------------------------------------------


def _locked(session: Session) -> list[SettlementPeriod]:
    return list(session.exec(select(SettlementPeriod).order_by(col(SettlementPeriod.period))).all())


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _latest_lines(
    session: Session, period: str, only: _Only | None = None
) -> dict[tuple[str, str, str], SettlementLine]:
    """The latest line per (kind, party, currency) settled for ``period``: what has been paid for it so far."""
    stmt = select(SettlementLine).where(SettlementLine.for_period == period)
    if only is not None:
        stmt = stmt.where(SettlementLine.kind == only.kind, SettlementLine.party_id == only.party)
    rows = session.exec(stmt.order_by(col(SettlementLine.booked_in), col(SettlementLine.id))).all()
    return {(r.kind, r.party_id, r.currency): r for r in rows}


def _heavy_from_lines(
    lines: dict[tuple[str, str, str], SettlementLine],
) -> tuple[dict[tuple[str, str], _DistFig], dict[tuple[str, str], _StoreFig]]:
    dist: dict[tuple[str, str], _DistFig] = {}
    stores: dict[tuple[str, str], _StoreFig] = {}
    for (kind, party, currency), r in lines.items():
        if kind == "distributor" and r.units:
            dist[(party, currency)] = _DistFig(units=r.units, scanned_out=r.units_out, value=Decimal(r.value))
        elif kind == "store" and r.units:
            stores[(party, currency)] = _StoreFig(units=r.units, value=Decimal(r.value))
    return dist, stores


def _line_rows(booked_in: str, for_period: str, dist: list[DistributorLine], stores: list[StoreLine],
               ) -> dict[tuple[str, str, str], SettlementLine]:  # fmt: skip
    out: dict[tuple[str, str, str], SettlementLine] = {}
    for d in dist:
        out[("distributor", d.party, d.currency)] = SettlementLine(
            booked_in=booked_in, for_period=for_period, kind="distributor", party_id=d.party, currency=d.currency,
            units=d.units_purchased, units_out=d.units_scanned_out, diverted_units=d.diverted_units,
            open_alerts=len(d.alert_ids), value=d.purchase_value, rate=d.rate, amount=d.rebate, delta=d.rebate,
            reason=d.reason[:500],
        )  # fmt: skip
    for s in stores:
        out[("store", s.party, s.currency)] = SettlementLine(
            booked_in=booked_in, for_period=for_period, kind="store", party_id=s.party, currency=s.currency,
            units=s.units_sold, units_out=s.flagged_units, value=s.sales_value + s.flagged_value, rate=s.fee_rate,
            amount=s.fee, delta=s.fee, reason=s.reason[:500],
        )  # fmt: skip
    return out


def _figures_key(r: SettlementLine) -> tuple[Any, ...]:
    return (r.units, r.units_out, r.diverted_units, r.open_alerts, Decimal(r.value), Decimal(r.rate), Decimal(r.amount))


def _restate(
    session: Session, booked_in: str, ctx: _Context, prices: _Prices, only: _Only | None = None
) -> tuple[list[Adjustment], list[SettlementLine]]:
    """Restate every locked period against what was paid for it; return the adjustments and the lines to record."""
    adjustments: list[Adjustment] = []
    records: list[SettlementLine] = []
    for row in _locked(session):
        policy = Policy.from_json(row.policy)
        start, end = _aware(row.starts_at), _aware(row.ends_at)
        previous = _latest_lines(session, row.period, only)
        heavy = None if row.restate else _heavy_from_lines(previous)
        dist, stores = _compute(session, policy, start, end, ctx, prices, heavy, only)
        current = _line_rows(booked_in, row.period, dist, stores)
        reasons = {("distributor", d.party, d.currency): d.reason for d in dist}
        reasons.update({("store", s.party, s.currency): s.reason for s in stores})
        for key in sorted(set(previous) | set(current)):
            kind, party, currency = key
            before = Decimal(previous[key].amount) if key in previous else Decimal("0.00")
            line = current.get(key) or SettlementLine(
                booked_in=booked_in, for_period=row.period, kind=kind, party_id=party, currency=currency,
                value=Decimal("0.00"), rate=Decimal("0"), amount=Decimal("0.00"), delta=Decimal("0.00"),
                reason="no longer owed: the facts behind it were retracted or flagged",
            )  # fmt: skip
            after = Decimal(line.amount)
            line.delta = money(after - before)
            changed = key not in previous or _figures_key(previous[key]) != _figures_key(line)
            if line.delta != 0:
                why = reasons.get(key, line.reason)
                adjustments.append(Adjustment(
                    for_period=row.period, kind=kind, party=party, name=ctx.names.get(party, party),
                    currency=currency, previously=money(before), amount=money(after), delta=line.delta,
                    reason=f"restated: {why}",
                ))  # fmt: skip
            if line.delta != 0 or changed:
                records.append(line)
    return adjustments, records


def list_periods(*, session: Session) -> list[SettlementPeriod]:
    """Every locked period, oldest first."""
    return _locked(session)


def _next_open(locked: list[SettlementPeriod]) -> str | None:
    return next_period(locked[-1].period) if locked else None


def run_settlement(*, session: Session, period: str, policy: Policy) -> Settlement:
    """Settle a period: a locked one as it was locked; an open one from today's facts (the next open one with the
    restatements of locked periods as adjustments). Deterministic: the same stored facts give the same output."""
    return _settle(session, period, policy, None)


_WORDS: Catalogue = messages("settlement.service:words")

_PARTNER_WORDS: Catalogue = messages("settlement.errors")


def _settle(session: Session, period: str, policy: Policy, only: _Only | None) -> Settlement:
    parse_period(period)
    locked = _locked(session)
    for row in locked:
        if row.period == period:
            return _narrowed(_from_document(row), only)
    if locked and period < locked[-1].period:
        raise PeriodLocked.keyed(_WORDS, "before_first_lock", period=period, first=locked[0].period,
                                 next=_next_open(locked), detail={"period": period})  # fmt: skip
    start, end = period_bounds(period, policy.timezone)
    if locked and period == _next_open(locked):
        # The books have no gap and no overlap, even if the policy's time zone changed since the last lock.
        start = _aware(locked[-1].ends_at)
    ctx, prices = _Context.load(session), _Prices.load(session)
    dist, stores = _compute(session, policy, start, end, ctx, prices, only=only)
    result = Settlement(period=period, status="open", timezone=policy.timezone, starts_at=start, ends_at=end,
                        policy=policy, distributors=dist, stores=stores)  # fmt: skip
    if period == _next_open(locked):
        result.adjustments, result._restated = _restate(session, period, ctx, prices, only)
    return result


def _narrowed(result: Settlement, only: _Only | None) -> Settlement:
    """A locked document cut down to one party's lines (a document cannot be queried by party; it is small)."""
    if only is None:
        return result
    result.distributors = [d for d in result.distributors if only.wants("distributor") and d.party == only.party]
    result.stores = [s for s in result.stores if only.wants("store") and s.party == only.party]
    result.adjustments = [a for a in result.adjustments if a.kind == only.kind and a.party == only.party]
    return result


def _from_document(row: SettlementPeriod) -> Settlement:
    data = json.loads(row.document)
    result = Settlement(
        period=row.period, status="locked", timezone=data["timezone"],
        starts_at=datetime.fromisoformat(data["starts_at"]), ends_at=datetime.fromisoformat(data["ends_at"]),
        policy=Policy.model_validate(data["policy"]),
        locked_at=datetime.fromisoformat(data["locked_at"]),
        checkpoint=Checkpoint.from_dict(data["checkpoint"]) if "checkpoint" in data else None,
    )  # fmt: skip
    result.distributors = [
        DistributorLine(**{**d, "purchase_value": Decimal(d["purchase_value"]), "rate": Decimal(d["rate"]),
                           "rebate": Decimal(d["rebate"]),
                           "coverage": None if d["coverage"] is None else Decimal(d["coverage"])})
        for d in data["distributors"]
    ]  # fmt: skip
    result.stores = [
        StoreLine(**{**s, "sales_value": Decimal(s["sales_value"]), "fee_rate": Decimal(s["fee_rate"]),
                     "fee": Decimal(s["fee"]), "flagged_value": Decimal(s["flagged_value"])})
        for s in data["stores"]
    ]  # fmt: skip
    result.adjustments = [
        Adjustment(**{**a, "previously": Decimal(a["previously"]), "amount": Decimal(a["amount"]),
                      "delta": Decimal(a["delta"])})
        for a in data["adjustments"]
    ]  # fmt: skip
    return result


def locked_document(*, session: Session, period: str) -> str | None:
    """The stored JSON of a locked period, byte for byte, or None while it is open."""
    row = session.get(SettlementPeriod, period)
    return row.document if row is not None else None


def lock_checkpoint(*, session: Session, period: str) -> Checkpoint:
    """The chain checkpoint signed when ``period`` was locked, as kept in its locked document."""
    parse_period(period)
    row = session.get(SettlementPeriod, period)
    if row is None:
        raise NoCheckpoint.keyed(_WORDS, "not_locked", period=period, detail={"period": period})
    data = json.loads(row.document)
    if "checkpoint" not in data:
        raise NoCheckpoint.keyed(_WORDS, "no_checkpoint", period=period, detail={"period": period})
    return Checkpoint.from_dict(data["checkpoint"])


def _earliest_fact(session: Session) -> datetime | None:
    times = [
        session.exec(select(func.min(Sale.event_time))).one(),
        session.exec(select(func.min(Purchase.event_time))).one(),
    ]
    found = [_aware(t) for t in times if t is not None]
    return min(found) if found else None


def lockable_from(period: str, policy: Policy) -> datetime:
    """The first moment ``period`` may be locked: midnight after its last day in the policy's time zone, plus the
    policy's grace days (an aware datetime in that zone)."""
    end = period_bounds(period, policy.timezone)[1].astimezone(ZoneInfo(policy.timezone))
    # Aware arithmetic within one zone adds calendar days, so a DST change inside the grace days moves nothing.
    return end + timedelta(days=policy.lock_grace_days)


def _has_facts(session: Session, start: datetime, end: datetime) -> bool:
    """Whether any sale, purchase or dispatch is dated in ``[start, end)`` (counted or not)."""
    for table in (Sale, Purchase, Dispatch):
        stmt = select(table.id).where(col(table.event_time) >= start, col(table.event_time) < end).limit(1)
        if session.exec(stmt).first() is not None:
            return True
    return False


def lock_period(
    *, session: Session, period: str, policy: Policy, locked_by: str = "", force: bool = False,
    now: datetime | None = None, keys: KeyFileStore | None = None,
) -> Settlement:  # fmt: skip
    """Lock a period once it has ended (plus the grace days): settle it one last time, sign a checkpoint of the
    chain head, and store the result with the checkpoint and its lines; it never changes again. An empty period (no
    facts, no adjustments) locks only with ``force``; ``now`` is the clock (tests); ``keys`` holds the checkpoint
    key (default: the settings' key directory; the key is created there on first use, as ``epcis checkpoint``
    does, so every lock signs one)."""
    parse_period(period)
    moment = _aware(now).astimezone(UTC) if now is not None else utcnow()
    lock_store(session)  # no capture may slip between the settlement and the lock
    locked = _locked(session)
    if any(r.period == period for r in locked):
        raise PeriodLocked.keyed(_WORDS, "already_locked", period=period, detail={"period": period})
    ready = lockable_from(period, policy)
    if moment < ready:
        days = policy.lock_grace_days
        key = "not_ended_one" if days == 1 else "not_ended"
        raise PeriodNotEnded.keyed(
            _WORDS, key, period=period, ready=f"{ready:%Y-%m-%d %H:%M}",
            timezone=policy.timezone, days=days,
            detail={"period": period, "lockable_from": ready.isoformat(), "timezone": policy.timezone},
        )
    expected = _next_open(locked)
    start, end = period_bounds(period, policy.timezone)
    if expected is not None and period != expected:
        raise LockOutOfOrder.keyed(_WORDS, "lock_in_order", period=period, next=expected,
                                   detail={"period": period, "next": expected})  # fmt: skip
    if expected is None:
        earliest = _earliest_fact(session)
        if earliest is not None and earliest < start:
            first = period_of(earliest, policy.timezone)
            raise LockOutOfOrder.keyed(_WORDS, "books_start", first=first, detail={"period": period, "next": first})
    result = run_settlement(session=session, period=period, policy=policy)
    if not force and not result.adjustments and not _has_facts(session, result.starts_at, result.ends_at):
        raise EmptyPeriod.keyed(_WORDS, "empty_period", period=period, detail={"period": period})
    result.status = "locked"
    result.locked_at = moment.replace(microsecond=0)
    # Still under the store lock taken above: the head signed is the one this settlement was computed from, and no
    # capture can slip between. The chain is not walked first (that is verify-chain's job, and it would hold every
    # capture for as long as the walk takes): the checkpoint vouches for the store as settled, broken or not.
    result.checkpoint = sign_checkpoint(session=session, key=chain_key(keys or key_store(get_settings())),
                                        key_id=CHAIN_KEY_ID)  # fmt: skip
    document = canonical(result.as_dict())
    row = SettlementPeriod(
        period=period, starts_at=BOOKS_START if expected is None else start, ends_at=end, locked_at=result.locked_at,
        locked_by=locked_by, policy=policy.as_json(), document=document,
        checksum=hashlib.sha256(document.encode()).hexdigest(), restate=False,
    )  # fmt: skip
    session.add(row)
    session.flush()
    for line in _line_rows(period, period, result.distributors, result.stores).values():
        session.add(line)
    for line in result._restated:
        session.add(line)
    for earlier in locked:
        if earlier.restate:
            earlier.restate = False
            session.add(earlier)
    session.flush()
    return result


def units_behind(
    *, session: Session, period: str, party: str, policy: Policy, limit: int = 10_000
) -> Iterator[dict[str, Any]]:
    """The units behind a party's amount in an open or locked period: each sale or purchase with its event."""
    start, end = period_bounds(period, policy.timezone)
    row = session.get(SettlementPeriod, period)
    if row is not None:  # a locked period keeps the bounds it was settled with
        start, end = _aware(row.starts_at), _aware(row.ends_at)
    if session.get(Party, party) is None:
        raise NotFound.keyed(_WORDS, "unknown_party", party=party, detail={"party": party})
    sales = session.exec(
        select(Sale).where(Sale.store_id == party, col(Sale.event_time) >= start, col(Sale.event_time) < end)
        .order_by(col(Sale.event_time), col(Sale.id)).limit(limit)
    )  # fmt: skip
    for s in sales:
        yield {"kind": "sale", "unit": s.unit_key, "gtin": s.gtin, "event_id": s.event_id,
               "event_time": _aware(s.event_time).isoformat(), "counted": bool(s.counted)}  # fmt: skip
    purchases = session.exec(
        select(Purchase).where(Purchase.distributor_id == party, col(Purchase.event_time) >= start,
                               col(Purchase.event_time) < end)
        .order_by(col(Purchase.event_time), col(Purchase.id)).limit(limit)
    )  # fmt: skip
    for p in purchases:
        yield {"kind": "purchase", "unit": p.unit_key, "gtin": p.gtin, "event_id": p.event_id,
               "event_time": _aware(p.event_time).isoformat(), "counted": bool(p.counted),
               "scanned_out": bool(p.scanned_out)}  # fmt: skip


# --- each partner's own view --------------------------------------------------------------------------------------


def _only_for(principal: Principal) -> _Only | None:
    """What of a settlement a principal may see: all of it (finance, admin, auditors), or its own lines."""
    if principal.sees_all:
        return None
    if principal.role is Role.distributor:
        return _Only("distributor", principal.party_id)
    if principal.role is Role.store:
        return _Only("store", principal.party_id)
    raise NotYourParty.keyed(_PARTNER_WORDS, "no_own_figures", role=principal.role.value,
                             detail={"role": principal.role.value})  # fmt: skip


def statement_for(
    *, session: Session, principal: Principal, period: str, policy: Policy
) -> Settlement:
    """The settlement as ``principal`` may see it: finance and admin all of it (exactly :func:`run_settlement`); a
    distributor its own distributor lines and adjustments, a store its own store lines and adjustments (the party in
    every query); the totals are then the party's own."""
    return _settle(session, period, policy, _only_for(principal))


def units_for(
    *, session: Session, principal: Principal, period: str, policy: Policy, party: str | None = None,
    limit: int = 10_000,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The units behind a line ``principal`` may see (:func:`units_behind`): finance and admin name the party; a
    distributor or a store gets its own, and naming another party is refused."""
    only = _only_for(principal)
    if only is None:
        if party is None:
            raise PartyRequired.keyed(_PARTNER_WORDS, "party_required")
        return units_behind(session=session, period=period, party=party, policy=policy, limit=limit)
    if party is not None and party != only.party:
        raise NotYourParty.keyed(_PARTNER_WORDS, "other_party", party=only.party, other=party, detail={"party": party})
    return units_behind(session=session, period=period, party=only.party, policy=policy, limit=limit)


@dataclass
class StoreDay:
    """A store's counter today (in the policy's time zone): units sold (counted once), to members, given free."""

    day: date
    units_sold: int
    member_units: int
    free_units: int


@dataclass
class StoreSummary:
    """A store's own page at a glance: today, the month so far (its settlement line), and its members."""

    store: str
    name: str
    timezone: str
    today: StoreDay
    month: Settlement
    members: int

    def as_dict(self) -> dict[str, Any]:
        m = self.month
        return {
            "store": self.store,
            "name": self.name,
            "timezone": self.timezone,
            "today": {"date": self.today.day.isoformat(), "units_sold": self.today.units_sold,
                      "member_units": self.today.member_units, "free_units": self.today.free_units},
            "month": {"period": m.period, "status": m.status, "units_sold": sum(s.units_sold for s in m.stores),
                      "lines": [s.as_dict() for s in m.stores],
                      "adjustments": [a.as_dict() for a in m.adjustments], "totals": m.totals()},
            "members": self.members,
        }  # fmt: skip


def store_summary(
    *, session: Session, principal: Principal, policy: Policy, now: datetime | None = None
) -> StoreSummary:
    """A store's day: today's sales, its settlement line for the month so far (the same figures finance sees for
    it, at the policy's rates), and how many members it registered; ``now`` is the clock (tests)."""
    if principal.role is not Role.store:
        raise NotYourParty.keyed(_PARTNER_WORDS, "not_a_store", role=principal.role.value,
                                 detail={"role": principal.role.value})  # fmt: skip
    store = principal.party_id
    zone = ZoneInfo(policy.timezone)
    local = (_aware(now) if now is not None else utcnow()).astimezone(zone)
    midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
    # Aware arithmetic within one zone adds a calendar day: a DST change today still ends the day at midnight.
    start, end = midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC)
    sold, to_members = session.exec(
        select(func.count(), func.sum(case((col(Sale.member_hash).is_not(None), 1), else_=0)))
        .where(col(Sale.store_id) == store, col(Sale.counted).is_(True), col(Sale.event_time) >= start,
               col(Sale.event_time) < end, ~_REDEEMED_HERE)  # a free unit is counted as one, not as a sale
    ).one()  # fmt: skip
    free = session.exec(
        select(func.count()).select_from(Redemption)
        .where(col(Redemption.store_id) == store, col(Redemption.redeemed_at) >= start,
               col(Redemption.redeemed_at) < end)
    ).one()  # fmt: skip
    members = session.exec(select(func.count()).select_from(Member).where(col(Member.home_store_id) == store)).one()
    party = session.get(Party, store)
    month = _settle(session, period_of(local, policy.timezone), policy, _Only("store", store))
    return StoreSummary(
        store=store, name=party.name if party is not None else store, timezone=policy.timezone,
        today=StoreDay(day=local.date(), units_sold=int(sold), member_units=int(to_members or 0), free_units=int(free)),
        month=month, members=int(members),
    )  # fmt: skip
