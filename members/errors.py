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
from traceability.i18n import Catalogue, messages, wording

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

_MESSAGES: Catalogue = messages("members.errors")


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
