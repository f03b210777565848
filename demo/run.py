"""The demo from an empty database to settled, locked, reported: what ``traceability demo`` runs.

Each phase commits, so an interrupted demo leaves a consistent database. The summary is computed at the end from
the database through the same service functions the CLI contract commands use (``alerts list --format json``,
``settlement run --format json``), so its figures are theirs.
"""

from __future__ import annotations

import io
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from codes import service as codes_service
from codes.keyfiles import KeyFileStore, write_private
from demo.network import build_network
from demo.simulate import Month, Simulator, capture_events, gln_uri, months_before, object_event
from demo.words import word
from rebates.policy import Policy, load_policy
from traceability.auth.service import create_api_key
from traceability.database import make_engine, migrate, session_scope
from traceability.errors import Conflict
from traceability.masterdata.service import import_masterdata
from traceability.models import (
    Code,
    CodeLevel,
    Event,
    KeyAlgorithm,
    KeyStatus,
    Member,
    Party,
    PrintFormat,
    Role,
    SigningKey,
    Task,
    Territory,
)
from traceability.settings import Settings

__all__ = ["DEMO_ROLES", "DemoResult", "Summary", "demo_summary", "run_demo"]

DEMO_ROLES: dict[Role, str] = {
    Role.admin: "BRAND",
    Role.plant: "PLANT-GZ",
    Role.distributor: "D-GZ",
    Role.store: "S-GZ-001",
    Role.auditor: "AUD",
    Role.finance: "BRAND",
}
"""One API key per role, for signing in to the web app."""

Progress = Callable[[str, float], None]


class DemoDatabaseNotEmpty(Conflict):
    code = "demo_database_not_empty"


@dataclass
class Summary:
    """The demo's figures, each read back from the database the way the CLI contract commands read it."""

    periods: list[str]
    locked: str
    parties: dict[str, int]
    territories: int
    codes_issued: int
    events: int
    alerts_by_kind: dict[str, int]
    alerts_by_status: dict[str, int]
    top_leaks: list[dict[str, Any]]
    members_by_source: dict[str, int]
    """Members by how they joined: at a store's POS, or first seen on a sale (``members list`` reads the same)."""
    settlement: dict[str, dict[str, Any]]
    """Per period: status, totals (rebates, fees, payable), distributors by rate, top rebates."""
    orders: dict[str, Any] = field(default_factory=dict)
    """O2O orders by status, offers that lapsed and offers declined (``orders list`` reads the same)."""
    tasks: dict[str, Any] = field(default_factory=dict)
    """The clerks' call list generated for one day: how many, by kind."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DemoResult:
    summary: Summary
    keys: dict[str, tuple[str, str]]
    """Role → (party, token)."""
    files: list[Path]
    timings: dict[str, float] = field(default_factory=dict)
    planted: list[str] = field(default_factory=list)


def _noop(_: str, __: float) -> None:
    return None


def _free_key_id(store: KeyFileStore, session: Session) -> str:
    n = 1
    while store.pem_path(f"K{n}").exists() or session.get(SigningKey, f"K{n}") is not None:
        n += 1
    return f"K{n}"


def _ensure_key(session: Session, settings: Settings) -> None:
    store = codes_service.key_store(settings)
    active = session.exec(
        select(SigningKey).where(SigningKey.algorithm == KeyAlgorithm.ed25519, SigningKey.status == KeyStatus.active)
    ).first()
    if active is None or not store.pem_path(active.key_id).exists():
        codes_service.create_key(session=session, store=store, key_id=_free_key_id(store, session))


def _expiry(month: Month) -> str:
    return f"{(month.year + 2) % 100:02d}{month.month:02d}00"


class _Plant:
    """Draws codes for production runs through print jobs (as a plant does), printed to ZPL for the line printer."""

    def __init__(self, session: Session, settings: Settings, month: Month) -> None:
        self.session, self.settings, self.month = session, settings, month

    def __call__(self, plant: str, gtin: str, lot: str, quantity: int) -> list[Code]:
        from labels import service as labels

        job = labels.create_job(session=self.session, store=codes_service.key_store(self.settings), party_id=plant,
                                gtin=gtin, lot=lot, expiry=_expiry(self.month), quantity=quantity,
                                level=CodeLevel.unit, template="roll-50x30", by=f"{plant} 生产线")  # fmt: skip
        assert job.id is not None
        labels.print_job(session=self.session, job_id=job.id, fmt=PrintFormat.zpl, out=io.BytesIO(),
                         by=f"{plant} 打印机", resolver=self.settings.resolver)  # fmt: skip
        return list(self.session.exec(select(Code).where(Code.batch_id == job.batch_id).order_by(col(Code.id))).all())


def _label_samples(session: Session, settings: Settings, out: Path, month: Month) -> list[Path]:
    """One A4 sheet of unit labels (PDF) and a thermal-printer job (ZPL) with a damaged label voided."""
    from labels import service as labels

    store = codes_service.key_store(settings)
    gtin = session.exec(select(func.min(Code.gtin))).one() or "06901234000108"
    sheet = labels.create_job(session=session, store=store, party_id="PLANT-GZ", gtin=gtin, lot="SAMPLE",
                              expiry=_expiry(month), quantity=24, level=CodeLevel.unit, template="a4-3x8",
                              by="演示")  # fmt: skip
    roll = labels.create_job(session=session, store=store, party_id="PLANT-GZ", gtin=gtin, lot="SAMPLE",
                             expiry=_expiry(month), quantity=6, level=CodeLevel.unit, template="roll-50x30",
                             by="演示")  # fmt: skip
    assert sheet.id is not None
    assert roll.id is not None
    pdf, zpl = out / "labels-sample-a4.pdf", out / "labels-sample.zpl"
    with pdf.open("wb") as f:
        labels.print_job(session=session, job_id=sheet.id, fmt=PrintFormat.pdf, out=f, by="演示",
                         resolver=settings.resolver)  # fmt: skip
    with zpl.open("wb") as f:
        labels.print_job(session=session, job_id=roll.id, fmt=PrintFormat.zpl, out=f, by="演示",
                         resolver=settings.resolver)  # fmt: skip
    first = session.exec(select(Code).where(Code.batch_id == roll.batch_id).order_by(col(Code.id))).first()
    assert first is not None
    assert first.serial is not None
    labels.void_label(session=session, job_id=roll.id, code=first.serial,
                      reason="标签打印模糊（演示）", by="演示")  # fmt: skip
    return [pdf, zpl]


def _work_cases(session: Session, first: Month) -> None:
    """The auditor's first findings: 东莞's Chengdu shipments confirmed, 广州's Shenzhen transfer dismissed."""
    from flow_graph import service as flow

    for alert in flow.list_alerts(session=session, filters=flow.AlertFilter(period=first.period)):
        assert alert.id is not None
        if alert.responsible_distributor_id == "D-DG" and alert.kind == "unauthorized_channel":
            flow.update_alert(session=session, alert_id=alert.id, author="AUD 稽查员", status="investigating",  # type: ignore[arg-type]
                              note="门店进货单显示货源为东莞经销商")  # fmt: skip
            flow.update_alert(session=session, alert_id=alert.id, author="AUD 稽查员", status="confirmed",  # type: ignore[arg-type]
                              note="经销商承认跨区供货，按政策处理")  # fmt: skip
        elif alert.responsible_distributor_id == "D-GZ" and alert.kind == "unauthorized_channel":
            flow.update_alert(session=session, alert_id=alert.id, author="AUD 稽查员", status="investigating",  # type: ignore[arg-type]
                              note="核实调拨单")  # fmt: skip
            flow.update_alert(session=session, alert_id=alert.id, author="AUD 稽查员", status="dismissed",  # type: ignore[arg-type]
                              note="总部批准的临时调货，不属窜货")  # fmt: skip


def _tasks_by_kind(session: Session) -> dict[str, int]:
    rows = session.exec(select(Task.kind, func.count()).group_by(Task.kind)).all()
    return {str(kind): int(n) for kind, n in sorted(rows)}


def demo_summary(*, session: Session, periods: list[str], locked: str, policy: Policy) -> Summary:
    """The figures to print, through the contract commands' own service calls."""
    from flow_graph import service as flow
    from flow_graph.graph import top_leaks
    from flow_graph.schemas import AlertRead
    from settlement import service as settle

    alerts = [AlertRead.model_validate(a).model_dump(mode="json")
              for a in flow.list_alerts(session=session, filters=flow.AlertFilter())]  # fmt: skip
    kinds = Counter(a["kind"] for a in alerts)
    statuses = Counter(a["status"] for a in alerts)
    names = dict(session.exec(select(Party.id, Party.name)).all())
    places = dict(session.exec(select(Territory.id, Territory.name)).all())
    leaks = [{"distributor": s.distributor, "name": names.get(s.distributor, ""), "diverted_units": s.diverted_units,
              "alerts": s.alerts, "territories": [t for t, _ in s.territories][:4],
              "territory_names": [places.get(t, t) for t, _ in s.territories][:4]}
             for s in top_leaks(session=session, limit=5)]  # fmt: skip
    figures: dict[str, dict[str, Any]] = {}
    for period in periods:
        doc = settle.run_settlement(session=session, period=period, policy=policy).as_dict()
        rebates = sorted(doc["distributors"], key=lambda d: Decimal(d["rebate"]), reverse=True)
        rates = Counter(d["rate"] for d in doc["distributors"])
        figures[period] = {
            "status": doc.get("status"),
            "totals": doc.get("totals"),
            "rebates": str(sum((Decimal(d["rebate"]) for d in doc["distributors"]), Decimal("0.00"))),
            "fees": str(sum((Decimal(s["fee"]) for s in doc["stores"]), Decimal("0.00"))),
            "units_sold": sum(int(s["units_sold"]) for s in doc["stores"]),
            "distributors_by_rate": dict(sorted(rates.items(), reverse=True)),
            "top_rebates": [{"party": d["party"], "name": names.get(d["party"], ""), "rate": d["rate"],
                             "rebate": d["rebate"]} for d in rebates[:3]],
            "zero_rate": [d["party"] for d in doc["distributors"] if Decimal(d["rate"]) == 0],
        }  # fmt: skip
    kinds_of_party = dict(Counter(str(k) for k in session.exec(select(Party.kind)).all()))
    return Summary(
        periods=periods, locked=locked, parties=kinds_of_party,
        territories=session.exec(select(func.count()).select_from(Territory)).one(),
        codes_issued=session.exec(select(func.count()).select_from(Code)).one(),
        events=session.exec(select(func.count()).select_from(Event)).one(),
        alerts_by_kind=dict(sorted(kinds.items())), alerts_by_status=dict(sorted(statuses.items())),
        top_leaks=leaks, settlement=figures,
        members_by_source=dict(sorted(Counter(str(x) for x in session.exec(select(Member.source)).all()).items())),
    )  # fmt: skip


def _reports(session: Session, out: Path, periods: list[str], policy: Policy) -> list[Path]:
    """Settlement reports (PDF, CSV, XLSX) of each period, the alert queue and the party graph."""
    from flow_graph import service as flow
    from flow_graph.graph import graph_document, graphml_document
    from flow_graph.schemas import AlertRead
    from settlement import reports
    from settlement import service as settle

    files: list[Path] = []
    for period in periods:
        result = settle.run_settlement(session=session, period=period, policy=policy)
        for fmt in ("pdf", "csv", "xlsx"):
            path = out / f"settlement-{period}.{fmt}"
            path.write_bytes(reports.render_report(session=session, settlement=result, fmt=fmt))
            files.append(path)
        path = out / f"settlement-{period}.json"
        path.write_text(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        files.append(path)
    alerts = [AlertRead.model_validate(a).model_dump(mode="json")
              for a in flow.list_alerts(session=session, filters=flow.AlertFilter())]  # fmt: skip
    path = out / "alerts.json"
    path.write_text(json.dumps(alerts, ensure_ascii=False, indent=2), encoding="utf-8")
    files.append(path)
    path = out / "party-graph.graphml"
    path.write_bytes(graphml_document(session=session))
    files.append(path)
    path = out / "party-graph.json"
    path.write_text(json.dumps(graph_document(session=session), ensure_ascii=False, default=str), encoding="utf-8")
    files.append(path)
    return files


def _distributor_stock(session: Session, settings: Settings, sim: Simulator, month: Month, out: Path) -> Path:
    """Goods at 广州 for the web demo: 24 units shipped to it, listed in a file to paste into the scanning page."""
    rows = _Plant(session, settings, month)("PLANT-GZ", sim.network.gtins[1], "WEB", 24)
    texts = list(sim.texts(rows))

    plant, dist = sim.parties["PLANT-GZ"], sim.parties["D-GZ"]
    now = datetime.now(UTC).astimezone(month.at(1).tzinfo)
    ship = {"sourceList": [{"type": "owning_party", "source": gln_uri(plant)}],
            "destinationList": [{"type": "owning_party", "destination": gln_uri(dist)}]}  # fmt: skip
    capture_events(session, [object_event("commissioning", now, [u for _, u in texts], plant),
                     object_event("shipping", now, [u for _, u in texts], plant, **ship)], "PLANT-GZ")  # fmt: skip
    path = out / "d-gz-stock.txt"
    path.write_text("".join(dl + "\n" for dl, _ in texts), encoding="utf-8")
    return path


def _inspections(session: Session, settings: Settings, sim: Simulator) -> None:
    """Consumers check a few sold packs where they bought them, and one 重庆 pack turns up in Beijing."""
    from web.service import record_inspection

    store = codes_service.key_store(settings)
    for code, shop, _ in sim.sold[:: max(1, len(sim.sold) // 5)][:5]:
        party = sim.parties[shop]
        assert party.lat is not None
        assert party.lon is not None
        record_inspection(session=session, text=code, lat=party.lat + 0.001, lon=party.lon + 0.001, store=store)
        sim.stats.inspections += 1
    cq = [c for c, s, _ in sim.sold if s.startswith("S-CQ-")]
    if cq:
        record_inspection(session=session, text=cq[0], lat=39.921, lon=116.445, store=store)
        sim.stats.inspections += 1
        sim.stats.planted.append(("planted.check", {}))


def run_demo(
    *, settings: Settings, out: Path, scale: float = 1.0, seed: int = 7, today: datetime | None = None,
    progress: Progress = _noop, engine: Engine | None = None, lang: str = "zh-CN",
) -> DemoResult:  # fmt: skip
    """Build the network, simulate two months with planted diversion, detect, settle and lock the first month."""
    from traceability.app import wire_listeners

    wire_listeners()
    policy = load_policy(settings.policy_file)

    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def done(key: str, **params: Any) -> None:
        nonlocal clock
        now = time.perf_counter()
        phase = word(f"phase.{key}", lang, **params)
        timings[phase] = now - clock
        progress(phase, now - clock)
        clock = now

    out.mkdir(parents=True, exist_ok=True)
    engine = engine or make_engine(settings.db)
    migrate(engine)
    with Session(engine) as probe:
        if probe.exec(select(func.count()).select_from(Party)).one():
            raise DemoDatabaseNotEmpty("the database already holds parties; the demo needs an empty one "
                                       "(traceability demo --reset, or --db another URL)")  # fmt: skip
    network = build_network(seed=seed)
    rng = random.Random(seed)
    first, second = months_before(today or datetime.now(UTC))
    with session_scope(engine) as session:
        import_masterdata(session=session, raw=network.document)
        _ensure_key(session, settings)
    done("network")

    files: list[Path] = []
    with session_scope(engine) as session:
        files += _label_samples(session, settings, out, first)
    done("labels")

    sim: Simulator | None = None
    for month in (first, second):
        with session_scope(engine) as session:
            sim = sim or Simulator(session=session, network=network, store=codes_service.key_store(settings),
                                   key_dir=settings.key_dir, resolver=settings.resolver, rng=rng, scale=scale,
                                   company_prefix_length=settings.company_prefix_length)  # fmt: skip
            sim.session = session
            sim.produce(month, _Plant(session, settings, month))
        done("produce", period=month.period)
        with session_scope(engine) as session:
            sim.session = session
            sim.distribute_and_sell(month, hold_back=6 if month == second else 0)
            sim.plant_diversion(month, _Plant(session, settings, month))
            sim.plant_clone_and_fakes(month)
        done("sell", period=month.period)
    assert sim is not None
    with session_scope(engine) as session:
        sim.session = session
        _inspections(session, settings, sim)
        files.append(_distributor_stock(session, settings, sim, second, out))
        _work_cases(session, first)
    done("checks")

    from demo.care import member_care

    with session_scope(engine) as session:
        sim.session = session
        care = member_care(sim=sim, session=session, month=second, policy=policy)
    done("care", day=care.task_day)

    with session_scope(engine) as session:
        from settlement import service as settle

        settle.lock_period(session=session, period=first.period, policy=policy, locked_by="演示 finance",
                           keys=codes_service.key_store(settings))  # fmt: skip
    with session_scope(engine) as session:
        files += _reports(session, out, [first.period, second.period], policy)
    done("settled", period=first.period)

    keys: dict[str, tuple[str, str]] = {}
    with session_scope(engine) as session:
        for role, party in DEMO_ROLES.items():
            keys[role.value] = (party, create_api_key(session=session, role=role, party_id=party, name="demo").token)
        summary = demo_summary(session=session, periods=[first.period, second.period], locked=first.period,
                               policy=policy)
        summary.orders = {"by_status": care.orders_by_status, "offers_lapsed": care.offers_lapsed,
                          "offers_declined": care.offers_declined}  # fmt: skip
        summary.tasks = {"day": care.task_day, "created": care.tasks,
                         "by_kind": _tasks_by_kind(session)}  # fmt: skip
    keys_file = out / "demo-keys.txt"  # API keys: readable by their owner only
    write_private(keys_file, "".join(f"{role}\t{party}\t{token}\n" for role, (party, token) in keys.items()).encode())
    summary_file = out / "summary.json"
    summary_file.write_text(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    files += [keys_file, summary_file]
    done("summary")
    return DemoResult(summary=summary, keys=keys, files=files, timings=timings,
                      planted=[word(k, lang, **p) for k, p in sim.stats.planted])



