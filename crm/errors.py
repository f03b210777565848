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
from traceability.i18n import wording

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
        "campaign_admin": "only the brand's admin may create or end campaigns, not a {role} key",
        "campaign_code": "letters, digits, - and _ only, at most 64",
        "campaign_name": "a name of 1 to 200 characters is required",
        "campaign_dates": "ends_on must not be before starts_on, at most 3660 days later",
        "campaign_end": "a campaign ends between its first and its last day ({start} to {end})",
        "campaign_multiplier": "a multiplier from 1 to 100 with at most two decimals",
        "campaign_bonus": "a bonus from 0 to 10000 points per unit",
        "campaign_no_extra": "a campaign must give something: a multiplier above 1 or a bonus",
        "campaign_unknown": "unknown: {items}",
        "campaign_too_many": "at most {max} entries",
        "member_unknown": "no member has this phone",
        "not_own_member": "a store grants points only to its own members ({own}); she is another store's",
        "grant_points": "points must be a whole number from 1 to {max}",
        "grant_reason": "a reason is required (what she took part in)",
        "reward_not_found": "no active reward {code}",
        "reward_code": "a reward code of letters, digits, - and _, at most 64",
        "reward_name": "a reward needs a name of 1 to 200 characters",
        "reward_price": "a reward's price is whole points from 1 to 10000000",
        "unknown_store": "unknown store {store}",
        "prospects_count": "hand in 1 to {max} phones at a time",
        "bad_month": "{month} is not a month (YYYY-MM)",
        "prospect.added": "handed in: credited to {store}",
        "prospect.already_yours": "already handed in by this store",
        "prospect.already_named": "already handed in by another store, which keeps the credit",
        "prospect.already_member": "already a member: not a prospect",
        "prospect.invalid_phone": "not a phone number",
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
        "campaign_admin": "只有品牌管理员可以创建或结束活动，{role} 密钥不可以",
        "campaign_code": "只能包含字母、数字、- 和 _，最多 64 个字符",
        "campaign_name": "名称必填，1 至 200 个字符",
        "campaign_dates": "结束日期不能早于开始日期，且相隔不超过 3660 天",
        "campaign_end": "活动只能在首日与末日之间结束（{start} 至 {end}）",
        "campaign_multiplier": "倍数须在 1 至 100 之间，最多两位小数",
        "campaign_bonus": "每件奖励积分须在 0 至 10000 之间",
        "campaign_no_extra": "活动必须有额外积分：倍数大于 1 或有奖励积分",
        "campaign_unknown": "不存在：{items}",
        "campaign_too_many": "最多 {max} 项",
        "member_unknown": "没有使用此手机号的会员",
        "not_own_member": "门店只能给本店会员（{own}）赠送积分；她是其他门店的会员",
        "grant_points": "积分须为 1 至 {max} 的整数",
        "grant_reason": "必须填写原因（参加了什么活动）",
        "reward_not_found": "没有可兑换的礼品 {code}",
        "reward_code": "礼品编号只能包含字母、数字、- 和 _，最多 64 个字符",
        "reward_name": "礼品名称必填，1 至 200 个字符",
        "reward_price": "礼品积分价须为 1 至 10000000 的整数",
        "unknown_store": "未知门店 {store}",
        "prospects_count": "每次提交 1 至 {max} 个手机号",
        "bad_month": "{month} 不是有效的月份（YYYY-MM）",
        "prospect.added": "已登记：计入 {store}",
        "prospect.already_yours": "本店已登记过",
        "prospect.already_named": "已由其他门店登记，归属该门店",
        "prospect.already_member": "已是会员，不是潜在客户",
        "prospect.invalid_phone": "不是有效的手机号",
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
