"""The chain covers every column and identifier row of an event, not only its JSON: re-link the stored chain once.

Each link becomes sha256(previous | event hash | sha256(JSON) | digest of the columns and identifier rows). The
formula is written out here, frozen, as a migration must be (``ledger.store.chain_link`` is the live one). A
checkpoint signed before this upgrade no longer matches; sign a new one after it.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_COVERED = (
    "seq", "event_id", "declaration", "hash_id", "event_type", "action", "biz_step", "disposition", "event_time",
    "tz_offset", "record_time", "read_point", "biz_location", "location_party_id", "source_party_id",
    "destination_party_id", "capture_id", "origin", "warnings",
)  # fmt: skip


_TYPES: dict[str, Any] = {"declaration": sa.Boolean(), "event_time": sa.DateTime(), "record_time": sa.DateTime(),
                          "seq": sa.Integer(), "capture_id": sa.Integer(), "id": sa.Integer()}  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    return str(value)


def _link(previous: str, hash_id: str, document: str, row: dict[str, Any], epcs: list[tuple[str, str, str]]) -> str:
    payload = [[_plain(row[name]) for name in _COVERED], sorted(epcs)]
    facts = hashlib.sha256(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")).hexdigest()
    digest = hashlib.sha256()
    for part in (previous.encode("ascii"), hash_id.encode("utf-8"), hashlib.sha256(document.encode("utf-8")).digest()):
        digest.update(part)
        digest.update(b"|")
    digest.update(facts.encode("ascii"))
    return digest.hexdigest()


def _relink(v2: bool) -> None:
    conn = op.get_bind()
    names = ("id", "document", "chain_hash", *_COVERED)
    events = sa.table("epcis_event", *(sa.column(c, _TYPES.get(c, sa.Text())) for c in names))
    epc = sa.table("epcis_event_epc", sa.column("event_pk"), sa.column("key"), sa.column("epc"), sa.column("role"))
    named: dict[int, list[tuple[str, str, str]]] = {}
    for pk, key, value, role in conn.execute(sa.select(epc.c.event_pk, epc.c.key, epc.c.epc, epc.c.role)):
        named.setdefault(pk, []).append((key, value, role))
    link = "0" * 64
    updates = []
    for row in conn.execute(sa.select(events).order_by(events.c.seq)).mappings():
        if v2:
            link = _link(link, row["hash_id"], row["document"], dict(row), named.get(row["id"], []))
        else:
            digest = hashlib.sha256()
            digest.update(link.encode("ascii") + b"|" + row["hash_id"].encode("utf-8") + b"|")
            digest.update(hashlib.sha256(row["document"].encode("utf-8")).digest())
            link = digest.hexdigest()
        updates.append({"row_id": row["id"], "link": link})
    if updates:
        relink = events.update().where(events.c.id == sa.bindparam("row_id")).values(chain_hash=sa.bindparam("link"))
        conn.execute(relink, updates)
        head = sa.table("chain_head", sa.column("id"), sa.column("hash"))
        conn.execute(head.update().where(head.c.id == 1).values(hash=link))


def upgrade() -> None:
    _relink(v2=True)


def downgrade() -> None:
    _relink(v2=False)
