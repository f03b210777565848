"""The brand's policy: rebate tiers, store fee, points and the six-get-one rule, and what an outbound scan that fails
a channel check does (``[outbound]``), from a TOML file.

The defaults are DESIGN.md's rules, so a brand with no policy file settles by them. A file is validated whole on load
and every problem is reported with its path (``rebate.tiers.1.min_coverage``), never a traceback or a silent default.
Rates and thresholds are decimal strings (``"0.02"``), so what finance writes is exactly what is computed.
"""

from __future__ import annotations

import functools
import json
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rebates.errors import PolicyInvalid
from traceability.errors import Problem
from traceability.gs1 import is_valid_gtin14
from traceability.i18n import Catalogue, messages

__all__ = [
    "CrmPolicy",
    "CrmTier",
    "OrdersPolicy",
    "OutboundAction",
    "OutboundPolicy",
    "Policy",
    "PointsPolicy",
    "RebatePolicy",
    "RebateTier",
    "StoreFeePolicy",
    "load_policy",
]

_WORDS: Catalogue = messages("rebates.policy")

Fraction = Annotated[Decimal, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RebateTier(_Strict):
    """One rate and the conditions a distributor must meet for it; the first tier met applies."""

    rate: Fraction
    min_coverage: Fraction
    """Outbound scan coverage at least this (units received that the distributor scanned out)."""
    max_diverted_share: Fraction
    """Attributed diverted units at most this share of the units received; 0 means no open or confirmed alert."""


class RebatePolicy(_Strict):
    tiers: list[RebateTier] = Field(
        default_factory=lambda: [
            RebateTier(rate=Decimal("0.02"), min_coverage=Decimal("0.95"), max_diverted_share=Decimal("0")),
            RebateTier(rate=Decimal("0.01"), min_coverage=Decimal("0.80"), max_diverted_share=Decimal("0.005")),
        ],
        max_length=10,
    )
    """Best first; a distributor meeting none earns 0 %."""

    @field_validator("tiers")
    @classmethod
    def _best_first(cls, tiers: list[RebateTier]) -> list[RebateTier]:
        for i in range(1, len(tiers)):
            if tiers[i].rate >= tiers[i - 1].rate:
                raise ValueError(f"tier {i} (rate {tiers[i].rate}) must pay less than tier {i - 1}: list best first")
        return tiers


class StoreFeePolicy(_Strict):
    rate: Fraction = Decimal("0.03")
    """Fee per unit sold, as a fraction of the product's unit price."""
    member_stores_only: bool = True
    """Only stores with a member-store number earn fees."""


class PointsPolicy(_Strict):
    per_unit: int = Field(default=1, ge=0, le=10_000)
    """Points a member earns per unit bought."""
    free_after: int = Field(default=6, ge=1, le=1000)
    """Buy this many member packs and the next one is free (six-get-one)."""
    member_pack_gtins: list[str] = Field(default_factory=list)
    """GTINs that count as member packs; empty means every product."""

    @field_validator("member_pack_gtins")
    @classmethod
    def _gtins(cls, gtins: list[str]) -> list[str]:
        bad = [g for g in gtins if not is_valid_gtin14(g)]
        if bad:
            raise ValueError(f"not 14-digit GTINs with a valid check digit: {', '.join(bad)}")
        return gtins


OutboundAction = Literal["warn", "refuse"]


class OutboundPolicy(_Strict):
    """Per outbound check, what a failing scan does: ``warn`` (accepted, carrying the warning) or ``refuse`` (rejected
    with the check as its reason, stored as every rejected scan is). A shipment to a destination refused by policy
    cannot be opened."""

    unauthorized_channel: OutboundAction = "warn"
    """Shipping to a store the distributor is not authorised to supply."""
    out_of_territory: OutboundAction = "warn"
    """Shipping to a place outside the territories of the distributor responsible for the goods."""
    not_holder: OutboundAction = "refuse"
    """Shipping a unit that another party holds: refused by default, since a key must never move another party's
    goods (DESIGN.md, Trust and evidence); a brand may relax it to a warning while its holders are being set up."""
    wrong_product: OutboundAction = "warn"
    """Scanning a product the shipment's order does not name."""

    def refuses(self, kind: str) -> bool:
        return getattr(self, kind, "warn") == "refuse"


# --- member care (crm/) -----------------------------------------------------------------------------------------
# The ``[crm]`` section: how long a unit lasts, the clerk's opportunity windows, the tiers and "active". Read by
# ``crm`` only; kept here so one policy file, validated whole, holds every rule the brand sets.


class CrmTier(_Strict):
    """What a member must reach for a tier: every threshold met (recency at most, the others at least)."""

    min_frequency: int = Field(default=1, ge=1, le=100_000)
    """Purchase occasions (distinct sale events)."""
    min_monetary: Decimal = Field(default=Decimal("0"), ge=0)
    """Value bought (units x unit price), in the products' currency."""
    max_recency_days: int = Field(default=90, ge=0, le=100_000)
    """Days since her last purchase, at most."""
    min_units_per_purchase: Decimal = Field(default=Decimal("0"), ge=0)
    """Cans per purchase occasion, on average."""


class CrmPolicy(_Strict):
    """Consumption, the clerk's windows and the member tiers (``docs/crm.md``); ``CrmPolicy()`` is DESIGN.md's."""

    days_per_unit: int = Field(default=7, ge=1, le=366)
    """Days one unit lasts (an 800 g can: a week)."""
    days_per_gtin: dict[str, int] = Field(default_factory=dict)
    """Per-GTIN overrides of ``days_per_unit`` (a 400 g can: 4)."""
    follow_up_from: int = Field(default=3, ge=0, le=366)
    follow_up_to: int = Field(default=5, ge=0, le=366)
    """A follow-up call falls due from ``follow_up_from`` to ``follow_up_to`` days after her first purchase."""
    replenish_from: int = Field(default=5, ge=0, le=366)
    replenish_to: int = Field(default=2, ge=0, le=366)
    """A replenishment call opens when her expected run-out is ``replenish_from`` days away and is due when it is
    ``replenish_to`` days away."""
    effect_days: int = Field(default=7, ge=0, le=366)
    """A purchase up to this many days after a task's due day still counts as its repurchase."""
    active_days: int = Field(default=90, ge=1, le=3660)
    """Active: a purchase within this many days (3 months)."""
    loyal: CrmTier = Field(default_factory=lambda: CrmTier(min_frequency=3, max_recency_days=90))
    advocate: CrmTier = Field(
        default_factory=lambda: CrmTier(
            min_frequency=6, min_monetary=Decimal("1500"), max_recency_days=60, min_units_per_purchase=Decimal("2")
        )
    )
    prospect_target: int = Field(
        default=20, ge=0, le=10_000, validation_alias=AliasChoices("prospect_target", "prospect_target_per_month")
    )
    """Prospects each member store hands in per month (a file may spell it ``prospect_target_per_month``)."""

    @field_validator("days_per_gtin")
    @classmethod
    def _gtin_days(cls, days: dict[str, int]) -> dict[str, int]:
        bad = [g for g in days if not is_valid_gtin14(g)]
        if bad:
            raise ValueError(f"not 14-digit GTINs with a valid check digit: {', '.join(bad)}")
        out = [g for g, d in days.items() if not 1 <= d <= 366]
        if out:
            raise ValueError(f"days per unit must lie between 1 and 366: {', '.join(out)}")
        return days

    @model_validator(mode="after")
    def _windows(self) -> CrmPolicy:
        if self.follow_up_from > self.follow_up_to:
            raise ValueError("follow_up_from must not be after follow_up_to")
        if self.replenish_from < self.replenish_to:
            raise ValueError("replenish_from (days before run-out) must be at least replenish_to")
        return self

    def days_for(self, gtin: str | None) -> int:
        """Days a unit of ``gtin`` lasts."""
        return self.days_per_gtin.get(gtin or "", self.days_per_unit)

    @property
    def prospect_target_per_month(self) -> int:
        """The monthly prospect target per member store (``prospect_target``), by the name the reports use."""
        return self.prospect_target


# --- O2O orders (orders/) ----------------------------------------------------------------------------------------
# The ``[orders]`` section: how long a store has to accept an offer, and which stores routing may choose. Read by
# ``orders`` only; kept here so one policy file, validated whole, holds every rule the brand sets.


class OrdersPolicy(_Strict):
    """How orders are routed and how long an offer stands (``docs/orders.md``); ``OrdersPolicy()`` is DESIGN.md's."""

    offer_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    """Minutes a store has to accept an offer before it lapses and the order goes to the next store."""
    stock_aware: bool = False
    """Offer only to stores holding the ordered units (units they hold, not sold or voided, per the ledger)."""
    max_distance_km: float | None = Field(default=None, gt=0, le=20_000)
    """The nearest store farther than this is no store: the order waits for the call centre (None: no limit)."""
    max_offers: int = Field(default=10, ge=1, le=1000)
    """Stores tried before an order waits for the call centre (unrouted) instead of going further."""


class Policy(_Strict):
    """Every rule settlement applies; ``Policy()`` is DESIGN.md's defaults."""

    timezone: str = "UTC"
    """The time zone whose calendar months are the settlement periods (e.g. ``Asia/Shanghai``)."""
    lock_grace_days: int = Field(default=3, ge=0, le=366)
    """Days after a period ends (midnight in ``timezone``) before it may be locked, so late scans still count."""
    rebate: RebatePolicy = Field(default_factory=RebatePolicy)
    store_fee: StoreFeePolicy = Field(default_factory=StoreFeePolicy)
    points: PointsPolicy = Field(default_factory=PointsPolicy)
    outbound: OutboundPolicy = Field(default_factory=OutboundPolicy)
    crm: CrmPolicy = Field(default_factory=CrmPolicy)
    orders: OrdersPolicy = Field(default_factory=OrdersPolicy)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    def as_json(self) -> str:
        """Canonical JSON, stored with a locked period so its restatements use the same rules."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        return cls.model_validate(json.loads(text))


def _problems(exc: ValidationError) -> list[Problem]:
    return [
        Problem(path=".".join(str(p) for p in err["loc"]) or "(root)", reason=err["msg"])
        for err in exc.errors(include_url=False)
    ]


def load_policy(path: Path | str | None = None) -> Policy:
    """The policy in ``path`` (TOML), or DESIGN.md's defaults when there is none; validated whole.

    Callers pass ``settings.policy_file`` from the settings they hold, or a ``--policy`` file. A named file that is
    missing or invalid is an error, never a silent fall-back to the defaults.
    """
    if path is None:
        return _DEFAULT
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise PolicyInvalid.keyed(_WORDS, "not_found", path=path,
                                  detail={"problems": [Problem(str(path), "no such file")]}) from None  # fmt: skip
    return _parsed_policy(path, content)


_DEFAULT = Policy()


@functools.lru_cache(maxsize=16)
def _parsed_policy(path: Path, content: bytes) -> Policy:
    """The file parsed and validated once per content: every request loads the policy, and parsing and validating
    the TOML each time cost a scan a thread hop. Keyed by the bytes, not the file's time, so an edit within the
    clock's tick is never missed. A refusal is not kept; the Policy is frozen, so callers cannot change the copy
    they share."""
    try:
        raw: Any = tomllib.loads(content.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyInvalid.keyed(_WORDS, "not_toml", path=path,
                                  detail={"problems": [Problem(str(path), str(exc))]}) from None  # fmt: skip
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise PolicyInvalid.keyed(_WORDS, "invalid", path=path, detail={"problems": _problems(exc)}) from None
