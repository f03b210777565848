"""Errors of the member registry, rendered by the one handler like every :class:`TraceabilityError`, and their words
in the two languages (zh-CN, en) the request asks for.

TraceabilityError
├── NotFound (404)
│   ├── MemberNotFound     no member has this phone (the phone is never named)
│   └── UnknownStore       a store id that is no store of the master data
├── Forbidden (403)
│   └── NotOwnStore        a store key naming another store's members
└── InvalidInput (422)
    ├── InvalidPhone       not a phone number (never echoed: a mistyped number is still somebody's)
    ├── InvalidMember      a field of a registration that breaks a rule (``field`` names it)
    └── ValidationFailed (422)
        └── ImportInvalid  a member list with bad rows: every one, with its line, column and reason; nothing written
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from traceability.errors import Forbidden, InvalidInput, NotFound, Problem, ValidationFailed
from traceability.i18n import wording

__all__ = [
    "ImportInvalid",
    "InvalidMember",
    "InvalidPhone",
    "MemberNotFound",
    "NotOwnStore",
    "RowProblem",
    "UnknownStore",
    "word",
]

_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "member_not_found": "no member has this phone number",
        "unknown_store": "{store} is not a store",
        "not_own_store": "a store key sees and registers only the members of its own store {own}",
        "store_required": "name the store the member joins (only a store's key implies it)",
        "invalid_phone": "the member's phone is not a phone number ({digits} digits; 6 to 15 expected)",
        "phone_characters": "the member's phone may hold only digits, spaces, +, - and brackets",
        "missing": "{field} is empty",
        "too_long": "{field} is longer than {max} characters",
        "control_characters": "{field} holds control characters",
        "bad_date": "{field} is not a date (YYYY-MM-DD)",
        "date_out_of_range": "{field} must lie between {low} and {high}",
        "bad_stage": "baby_stage must be 1, 2, 3 or 4",
        "bad_consent": "consent_at is neither a time (ISO 8601), a date, nor yes / no",
        "future_consent": "consent_at lies in the future",
        "duplicate_in_file": "the same phone as line {line}",
        "no_phone_column": "the file has no phone column (phone or 手机号)",
        "duplicate_column": "two columns mean {field}",
        "empty_file": "the file holds no header row",
        "not_utf8": "the file is not UTF-8 text",
        "bad_csv": "the file is not valid CSV: {why}",
        "too_many_fields": "the row has more fields than the header",
        "import_invalid": "{count} bad row(s) in the member list; nothing was imported",
    },
    "zh-CN": {
        "member_not_found": "没有使用该手机号的会员",
        "unknown_store": "{store} 不是门店",
        "not_own_store": "门店密钥只能查看和登记本店 {own} 的会员",
        "store_required": "请指定会员所属门店（只有门店密钥可省略）",
        "invalid_phone": "会员手机号无效（{digits} 位数字，应为 6 到 15 位）",
        "phone_characters": "会员手机号只能包含数字、空格、+、- 和括号",
        "missing": "{field} 为空",
        "too_long": "{field} 超过 {max} 个字符",
        "control_characters": "{field} 含有控制字符",
        "bad_date": "{field} 不是日期（YYYY-MM-DD）",
        "date_out_of_range": "{field} 应在 {low} 与 {high} 之间",
        "bad_stage": "baby_stage 只能是 1、2、3 或 4",
        "bad_consent": "consent_at 既不是时间（ISO 8601）、日期，也不是 是 / 否",
        "future_consent": "consent_at 是将来的时间",
        "duplicate_in_file": "与第 {line} 行的手机号重复",
        "no_phone_column": "文件缺少手机号列（phone 或 手机号）",
        "duplicate_column": "有两列都表示 {field}",
        "empty_file": "文件没有表头行",
        "not_utf8": "文件不是 UTF-8 文本",
        "bad_csv": "文件不是有效的 CSV：{why}",
        "too_many_fields": "该行的字段比表头多",
        "import_invalid": "会员名单中有 {count} 行有误；未导入任何会员",
    },
}


def word(reason: str, lang: str = "en", **params: Any) -> str:
    """The message of ``reason`` in ``lang`` (zh-CN or en; anything else is English)."""
    return wording(_MESSAGES, reason, lang, **params)


class MemberNotFound(NotFound):
    code = "member_not_found"


class UnknownStore(NotFound):
    code = "unknown_store"


class NotOwnStore(Forbidden):
    code = "not_own_store"


class InvalidPhone(InvalidInput):
    code = "invalid_phone"


class InvalidMember(InvalidInput):
    code = "invalid_member"


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad cell of a member list: the file's line (the header is line 1), the column, a reason code, words."""

    line: int
    column: str
    reason: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "reason": self.reason, "message": self.message}


class ImportInvalid(ValidationFailed):
    """A member list refused whole: ``rows`` lists every bad cell (``problems`` says the same as path and reason)."""

    code = "member_import_invalid"

    def __init__(self, message: str, rows: list[RowProblem]) -> None:
        super().__init__(message, [Problem(path=f"line {r.line}/{r.column}", reason=r.message) for r in rows])
        self.rows = rows
        self.detail["rows"] = [r.as_dict() for r in rows]
