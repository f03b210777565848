"""Errors of member care, and the words of its messages and task reasons in zh-CN and en.

TraceabilityError
├── NotFound (404)
│   ├── TaskNotFound        no task has this id (or not one the caller's store may see)
│   └── CampaignNotFound    no campaign has this code
├── Conflict (409)
│   ├── CampaignExists      a campaign with this code exists already
│   └── NotEnoughPoints     a reward costs more points than the member has
├── Forbidden (403)
│   └── NotOwnStore         a store naming another store (its tasks, its members)
└── InvalidInput (422)
    ├── InvalidOutcome      a task outcome that is not one of the outcomes
    ├── InvalidRange        a from / to that are reversed or too far apart
    └── InvalidCampaign     a campaign field that breaks a rule (``field`` names it)
"""

from __future__ import annotations

from typing import Any

from traceability.errors import Conflict, Forbidden, InvalidInput, NotFound
from traceability.i18n import wording

__all__ = [
    "CampaignExists",
    "CampaignNotFound",
    "InvalidCampaign",
    "InvalidOutcome",
    "InvalidRange",
    "NotEnoughPoints",
    "NotOwnStore",
    "TaskNotFound",
    "word",
]

_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "task_not_found": "no task {id}",
        "not_own_store": "a store key sees only its own store {own}",
        "invalid_outcome": "{status} is not an outcome; one of: {allowed}",
        "bad_range": "from ({start}) must not be after to ({end}), at most {max} days apart",
        "campaign_not_found": "no campaign {code}",
        "campaign_exists": "campaign {code} exists already",
        "campaign_field": "campaign {field}: {why}",
        "not_enough_points": "reward {code} costs {price} points; the member has {points}",
        "reason.first_purchase": "first purchase of {units} unit(s) on {basis}: ask how the baby takes to it",
        "reason.run_out": "expected to run out on {basis} ({units} unit(s) last bought): offer a refill",
        "kind.follow_up": "follow-up",
        "kind.replenish": "replenish",
    },
    "zh-CN": {
        "task_not_found": "没有任务 {id}",
        "not_own_store": "门店密钥只能查看本店 {own}",
        "invalid_outcome": "{status} 不是有效的结果；可选：{allowed}",
        "bad_range": "起始日期（{start}）不能晚于结束日期（{end}），且相隔不超过 {max} 天",
        "campaign_not_found": "没有活动 {code}",
        "campaign_exists": "活动 {code} 已存在",
        "campaign_field": "活动 {field}：{why}",
        "not_enough_points": "礼品 {code} 需要 {price} 积分；会员只有 {points} 积分",
        "reason.first_purchase": "{basis} 首次购买 {units} 罐：回访宝宝食用情况",
        "reason.run_out": "预计 {basis} 用完（最近购买 {units} 罐）：提醒补货",
        "kind.follow_up": "回访",
        "kind.replenish": "补货提醒",
    },
}


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
