"""Errors of member care, and the words of its messages and task reasons in zh-CN and en.

TraceabilityError
├── NotFound (404)
│   ├── TaskNotFound        no task has this id (or not one the caller's store may see)
│   ├── CampaignNotFound    no campaign has this code
│   ├── RewardNotFound      no active reward has this code
│   ├── StoreNotFound       no store has this id
│   └── MemberUnknown       no member has this phone
├── Conflict (409)
│   ├── CampaignExists      a campaign with this code exists already
│   └── NotEnoughPoints     a reward costs more points than the member has
├── Forbidden (403)
│   ├── NotOwnStore         a store naming another store (its tasks, its members, a redemption there)
│   └── NotOwnMember        a store granting points to another store's member
└── InvalidInput (422)
    ├── InvalidOutcome      a task outcome that is not one of the outcomes
    ├── InvalidRange        a from / to that are reversed or too far apart
    ├── InvalidCampaign     a campaign field that breaks a rule (``field`` names it)
    ├── InvalidGrant        activity points out of range, or no reason
    ├── InvalidReward       a reward's code, name or price out of range
    └── InvalidProspects    a hand-in with no phone, too many, or a bad month
"""

from __future__ import annotations

from typing import Any

from traceability.errors import Conflict, Forbidden, InvalidInput, NotFound
from traceability.i18n import Catalogue, messages, wording

__all__ = [
    "CampaignExists",
    "CampaignNotFound",
    "InvalidCampaign",
    "InvalidGrant",
    "InvalidOutcome",
    "InvalidProspects",
    "InvalidRange",
    "InvalidReward",
    "MemberUnknown",
    "NotEnoughPoints",
    "NotOwnMember",
    "NotOwnStore",
    "RewardNotFound",
    "StoreNotFound",
    "TaskNotFound",
    "word",
]

_MESSAGES: Catalogue = messages("crm.errors")


def word(reason: str, lang: str = "en", **params: Any) -> str:
    """The message of ``reason`` in ``lang`` (zh-CN or en; anything else is English)."""
    return wording(_MESSAGES, reason, lang, **params)


class TaskNotFound(NotFound):
    code = "task_not_found"


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class CampaignExists(Conflict):
    code = "campaign_exists"


class NotEnoughPoints(Conflict):
    code = "not_enough_points"


class NotOwnStore(Forbidden):
    code = "not_own_store"


class InvalidOutcome(InvalidInput):
    code = "invalid_outcome"


class InvalidRange(InvalidInput):
    code = "invalid_range"


class InvalidCampaign(InvalidInput):
    code = "invalid_campaign"


class RewardNotFound(NotFound):
    code = "reward_not_found"


class MemberUnknown(NotFound):
    code = "member_unknown"


class NotOwnMember(Forbidden):
    code = "not_own_member"


class InvalidGrant(InvalidInput):
    code = "invalid_grant"


class InvalidReward(InvalidInput):
    code = "invalid_reward"


class InvalidProspects(InvalidInput):
    code = "invalid_prospects"


class StoreNotFound(NotFound):
    code = "unknown_store"
