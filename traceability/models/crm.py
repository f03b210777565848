"""Member care (``crm``): the clerk's tasks, campaigns and activity points, the reward catalogue, stores' prospects.

Everything a member *bought* stays derived from the sale facts (``sale``); these tables hold what a sale cannot say:
the calls a clerk is asked to make and what came of them, the campaigns the brand runs, points granted by hand for
taking part in an activity, rewards bought with points, and the prospects a store names before they are members.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, Index, Numeric, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from traceability.models.base import utcnow

__all__ = [
    "Campaign",
    "MemberStock",
    "MemberStockDirty",
    "MemberStockState",
    "PointsGrant",
    "Prospect",
    "Reward",
    "RewardRedemption",
    "Task",
    "TaskKind",
    "TaskStatus",
]


class TaskKind(StrEnum):
    follow_up = "follow_up"
    """A call a few days after her first purchase: how is the baby taking it?"""
    replenish = "replenish"
    """A call before her expected run-out."""


class TaskStatus(StrEnum):
    open = "open"
    reached = "reached"
    not_reached = "not_reached"
    bought = "bought"
    declined = "declined"
    do_not_call = "do_not_call"
    """She asked not to be called: no further task is generated for her."""


class Task(SQLModel, table=True):
    """One call a clerk of the member's home store is asked to make, in a window (``opens`` to ``due``).

    ``(member_id, kind, opens)`` is unique: however often generation runs, one task per member, kind and window.
    """

    __tablename__ = "crm_task"
    __table_args__ = (
        UniqueConstraint("member_id", "kind", "opens", name="uq_crm_task_window"),
        Index("ix_crm_task_store_due", "store_id", "due"),
        CheckConstraint("kind IN ('follow_up', 'replenish')", name="ck_crm_task_kind"),
        CheckConstraint(
            "status IN ('open', 'reached', 'not_reached', 'bought', 'declined', 'do_not_call')",
            name="ck_crm_task_status",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    store_id: str = Field(foreign_key="party.id", max_length=64)
    """The member's home store when the task was made."""
    kind: str = Field(max_length=16)
    opens: date
    """The first day of the window: the task is on the clerk's list from this day."""
    due: date
    """The last day of the window."""
    reason: str = Field(max_length=32)
    """Why, as a code (``first_purchase``, ``run_out``); worded in zh-CN or en on output from ``basis``/``units``."""
    basis: date
    """The first purchase day (follow-up) or the expected run-out day (replenish)."""
    units: int = 0
    """Units bought on the first purchase day (follow-up), or all units counted towards the run-out (replenish)."""
    status: str = Field(default=TaskStatus.open.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    outcome_at: datetime | None = None
    outcome_by: str | None = Field(default=None, max_length=100)
    """Who recorded the outcome: the key's party and role, or ``cli``."""
    note: str = Field(default="", max_length=500)


class Campaign(SQLModel, table=True):
    """Extra points on top of the regular rule for sales in a date range, of some products, at some stores.

    Empty ``gtins`` / ``stores`` / ``territories`` mean every product / every store. Extra points per unit are
    ``per_unit x (multiplier - 1) + bonus``; they stay derived from the sales, so a late sale earns them too.
    """

    __tablename__ = "crm_campaign"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ck_crm_campaign_dates"),
        CheckConstraint("multiplier >= 1", name="ck_crm_campaign_multiplier"),
        CheckConstraint("bonus >= 0", name="ck_crm_campaign_bonus"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    """Members who joined through it have ``source = campaign:<code>``."""
    name: str = Field(max_length=200)
    starts_on: date
    ends_on: date
    """Inclusive, in the policy's time zone."""
    gtins: str = Field(default="[]", sa_type=Text)
    stores: str = Field(default="[]", sa_type=Text)
    territories: str = Field(default="[]", sa_type=Text)
    """JSON lists; a store is in a territory when the territory is an ancestor-or-self of the store's."""
    multiplier: Decimal = Field(default=Decimal("1"), sa_column=Column(Numeric(6, 2), nullable=False))
    bonus: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)


class PointsGrant(SQLModel, table=True):
    """Points granted by hand, for taking part in an activity: with the reason and who granted them."""

    __tablename__ = "crm_points_grant"
    __table_args__ = (Index("ix_crm_points_grant_member", "member_id", "granted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    points: int
    reason: str = Field(max_length=200)
    campaign_id: int | None = Field(default=None, foreign_key="crm_campaign.id")
    granted_by: str = Field(max_length=100)
    granted_at: datetime = Field(default_factory=utcnow)


class Reward(SQLModel, table=True):
    """An entry of the redemption catalogue: a gift with a points price (the free unit is six-get-one's own)."""

    __tablename__ = "crm_reward"
    __table_args__ = (CheckConstraint("points_price > 0", name="ck_crm_reward_price"),)

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    points_price: int
    active: bool = True


class RewardRedemption(SQLModel, table=True):
    """A reward a member bought with points, at a store."""

    __tablename__ = "crm_reward_redemption"
    __table_args__ = (Index("ix_crm_reward_redemption_member", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    reward_code: str = Field(foreign_key="crm_reward.code", max_length=64)
    points: int
    store_id: str = Field(foreign_key="party.id", max_length=64)
    redeemed_at: datetime = Field(default_factory=utcnow)
    redeemed_by: str = Field(max_length=100)


class Prospect(SQLModel, table=True):
    """A prospect a store handed in (by the keyed hash of her phone): the first store to name her is credited with
    her registration and her later purchases."""

    __tablename__ = "crm_prospect"
    __table_args__ = (Index("ix_crm_prospect_store_month", "store_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    phone_hash: str = Field(max_length=64, unique=True)
    store_id: str = Field(foreign_key="party.id", max_length=64)
    month: str = Field(max_length=7)
    """YYYY-MM in the policy's time zone: what the monthly target counts."""
    handed_at: datetime = Field(default_factory=utcnow)


class MemberStock(SQLModel, table=True):
    """A member's consumption so far, kept up to date from the sale facts (``crm.stock``): first and last purchase
    day and expected run-out, as local day numbers under the basis in :class:`MemberStockState`.

    Derived, never primary: refreshed from the sales above the folded-in id (and fully for the members a late,
    changed or removed sale touched), rebuilt whole when the basis changes. Task generation reads index ranges of
    it (first purchase, run-out) instead of every member's history.
    """

    __tablename__ = "member_stock"
    __table_args__ = (
        Index("ix_member_stock_first", "first_day"),
        Index("ix_member_stock_run_out", "run_out"),
        Index("ix_member_stock_last", "last_day"),
    )

    member_hash: str = Field(primary_key=True, max_length=64)
    first_day: int
    last_day: int
    run_out: int


class MemberStockState(SQLModel, table=True):
    """The one row (``id = 1``) saying what :class:`MemberStock` holds: the highest sale id folded in, and the basis
    (time zone offset and days per product) its day numbers were computed under."""

    __tablename__ = "member_stock_state"

    id: int = Field(primary_key=True)
    basis: str = Field(max_length=2000)
    folded_id: int


class MemberStockDirty(SQLModel, table=True):
    """Members whose folded-in sales changed or went away (a retraction, a recount of ``counted``), written by the
    database's triggers on ``sale`` (migration 0019): the next refresh recomputes them from their whole history."""

    __tablename__ = "member_stock_dirty"
    __table_args__ = (Index("ix_member_stock_dirty_member", "member_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    member_hash: str = Field(max_length=64)
