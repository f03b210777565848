"""Plain words for the errors the framework raises before a route runs (issue 17).

FastAPI checks a request against its route's declared shapes and answers pydantic's English (``String should match
pattern '^\\d{4}-\\d{2}$'``) before any of our code runs; Starlette answers ``Not Found`` for a path no route serves.
A clerk in Guangzhou should read neither. This module turns both into problem details worded in the request's
language — each problem's ``reason`` says what the field must be (``应为年月，格式 YYYY-MM``), never a regular
expression — and keeps the machine fields a program reads: ``error`` (``validation_failed``, ``not_found``,
``method_not_allowed``), each problem's ``path`` and, as its ``code``, pydantic's error type.

The API's handlers (``traceability.app``) and the pages' error page (``web.routes``) both word through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from traceability.errors import NotFound, Problem, TraceabilityError, ValidationFailed
from traceability.i18n import negotiate, wording

__all__ = ["PROBLEM_JSON", "MethodNotAllowed", "RequestInvalid", "http_error", "http_problem", "where_and_why"]

PROBLEM_JSON = "application/problem+json"

_WORDS = {
    "en": {
        "request_invalid": "request is invalid: {first}",
        "request_invalid_more": "request is invalid: {first} (and {more} more problems)",
        "problem": "{where}{gap}{reason}",
        "the_body": "the request body",
        "missing": "is required",
        "pattern": "must be {form}",
        "string_too_short": "must be at least {min_length} characters long",
        "string_too_long": "must be at most {max_length} characters long",
        "too_short": "must hold at least {min_length} items",
        "too_long": "must hold at most {max_length} items",
        "whole_number": "must be a whole number",
        "number": "must be a number",
        "finite_number": "must be a finite number",
        "boolean": "must be true or false",
        "text": "must be text",
        "list": "must be a list",
        "object": "must be an object",
        "greater_than": "must be greater than {gt}",
        "greater_than_equal": "must be at least {ge}",
        "less_than": "must be less than {lt}",
        "less_than_equal": "must be at most {le}",
        "multiple_of": "must be a multiple of {multiple_of}",
        "decimal_places": "must have at most {decimal_places} decimal places",
        "decimal_digits": "must have at most {max_digits} digits",
        "one_of": "must be one of {expected}",
        "date": "must be a date written YYYY-MM-DD",
        "datetime": "must be a moment in ISO 8601 with its offset, such as 2026-09-01T08:00:00+08:00",
        "time": "must be a time of day written HH:MM",
        "timezone_aware": "must carry a time-zone offset, such as +08:00",
        "uuid": "must be a UUID",
        "url": "must be a URL",
        "json_invalid": "is not valid JSON",
        "extra_forbidden": "is not a field this request takes",
        "value_error": "is not valid: {error}",
        "invalid": "is not valid",
        "form.month": "a month written YYYY-MM, such as 2026-09",
        "form.date": "a date written YYYY-MM-DD",
        "form.currency": "a three-letter currency code in capitals, such as CNY",
        "form.digits": "digits only",
        "form.name": "a name of letters, digits and . _ ~ - (at most 200 characters, starting with a letter or digit)",
        "form.other": "in the form this field takes",
        "not_found": "nothing here answers {path}",
        "method_not_allowed": "{path} does not take {method}; it takes {allowed}",
    },
    "zh-CN": {
        "request_invalid": "请求有误：{first}",
        "request_invalid_more": "请求有误：{first}（另有 {more} 处问题）",
        "problem": "{where}{gap}{reason}",
        "the_body": "请求内容",
        "missing": "必须填写",
        "pattern": "应为{form}",
        "string_too_short": "至少 {min_length} 个字符",
        "string_too_long": "至多 {max_length} 个字符",
        "too_short": "至少 {min_length} 项",
        "too_long": "至多 {max_length} 项",
        "whole_number": "应为整数",
        "number": "应为数字",
        "finite_number": "应为有限的数字",
        "boolean": "应为是或否（true / false）",
        "text": "应为文字",
        "list": "应为列表",
        "object": "应为对象（键值对）",
        "greater_than": "应大于 {gt}",
        "greater_than_equal": "应不小于 {ge}",
        "less_than": "应小于 {lt}",
        "less_than_equal": "应不大于 {le}",
        "multiple_of": "应为 {multiple_of} 的倍数",
        "decimal_places": "至多 {decimal_places} 位小数",
        "decimal_digits": "至多 {max_digits} 位数字",
        "one_of": "应为以下之一：{expected}",
        "date": "应为日期，格式 YYYY-MM-DD",
        "datetime": "应为带时区的时间，ISO 8601 格式，如 2026-09-01T08:00:00+08:00",
        "time": "应为时刻，格式 HH:MM",
        "timezone_aware": "应带时区偏移，如 +08:00",
        "uuid": "应为 UUID",
        "url": "应为网址",
        "json_invalid": "不是有效的 JSON",
        "extra_forbidden": "不是此请求接受的字段",
        "value_error": "无效：{error}",
        "invalid": "无效",
        "form.month": "年月，格式 YYYY-MM，如 2026-09",
        "form.date": "日期，格式 YYYY-MM-DD",
        "form.currency": "三个大写字母的币种代码，如 CNY",
        "form.digits": "纯数字",
        "form.name": "由字母、数字和 . _ ~ - 组成的名称（以字母或数字开头，至多 200 个字符）",
        "form.other": "此字段规定的格式",
        "not_found": "没有这个地址：{path}",
        "method_not_allowed": "{path} 不接受 {method} 请求，可用：{allowed}",
    },
}

_FORMS = {  # the patterns the routes and schemas declare, as a user would say them (a new one falls to form.other)
    r"^\d{4}-\d{2}$": "month",
    r"^\d{4}-(0[1-9]|1[0-2])$": "month",
    r"^\d{4}-\d{2}-\d{2}$": "date",
    r"^[A-Z]{3}$": "currency",
    r"^\s*\d*\s*$": "digits",
    r"^\d+$": "digits",
    r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$": "name",
}

_KINDS = {  # pydantic's error type → the key of its words (types not listed are worded "is not valid")
    "missing": "missing", "missing_argument": "missing", "missing_keyword_only_argument": "missing",
    "missing_positional_only_argument": "missing",
    "string_pattern_mismatch": "pattern",
    "string_too_short": "string_too_short", "string_too_long": "string_too_long",
    "too_short": "too_short", "too_long": "too_long",
    "int_parsing": "whole_number", "int_type": "whole_number", "int_from_float": "whole_number",
    "int_parsing_size": "whole_number",
    "float_parsing": "number", "float_type": "number", "decimal_parsing": "number", "decimal_type": "number",
    "finite_number": "finite_number", "decimal_max_places": "decimal_places", "decimal_max_digits": "decimal_digits",
    "decimal_whole_digits": "decimal_digits",
    "bool_parsing": "boolean", "bool_type": "boolean",
    "string_type": "text", "string_sub_type": "text", "string_unicode": "text",
    "list_type": "list", "tuple_type": "list", "set_type": "list", "frozen_set_type": "list", "iterable_type": "list",
    "dict_type": "object", "model_type": "object", "model_attributes_type": "object", "dataclass_type": "object",
    "greater_than": "greater_than", "greater_than_equal": "greater_than_equal",
    "less_than": "less_than", "less_than_equal": "less_than_equal", "multiple_of": "multiple_of",
    "enum": "one_of", "literal_error": "one_of",
    "date_parsing": "date", "date_type": "date", "date_from_datetime_parsing": "date",
    "date_from_datetime_inexact": "date",
    "datetime_parsing": "datetime", "datetime_type": "datetime", "datetime_from_date_parsing": "datetime",
    "datetime_object_invalid": "datetime",
    "time_parsing": "time", "time_type": "time",
    "timezone_aware": "timezone_aware",
    "uuid_parsing": "uuid", "uuid_type": "uuid", "uuid_version": "uuid",
    "url_parsing": "url", "url_type": "url", "url_scheme": "url", "url_syntax_violation": "url",
    "json_invalid": "json_invalid", "json_type": "json_invalid",
    "extra_forbidden": "extra_forbidden",
    "value_error": "value_error", "assertion_error": "value_error",
}  # fmt: skip

_SOURCES = ("body", "query", "path", "header", "cookie")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _words(key: str, lang: str, **params: Any) -> str:
    return wording(_WORDS, key, lang, **params)


def _where(loc: Sequence[Any], lang: str) -> str:
    """The field as a caller names it: ``codes[0].gtin`` for ``("body", "codes", 0, "gtin")``."""
    parts = list(loc[1:] if loc and loc[0] in _SOURCES else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or _words("the_body", lang)


def _choices(expected: str, lang: str) -> str:
    """pydantic's ``'a', 'b' or 'c'`` as the language lists them."""
    values = _QUOTED.findall(expected) or [expected]
    return ("、" if lang == "zh-CN" else ", ").join(values)


def _reason(error: Mapping[str, Any], lang: str) -> str:
    ctx = dict(error.get("ctx") or {})
    kind = _KINDS.get(str(error.get("type", "")), "invalid")
    if kind == "pattern":
        form = _FORMS.get(str(ctx.get("pattern", "")), "other")
        return _words("pattern", lang, form=_words(f"form.{form}", lang))
    if kind == "one_of":
        return _words(kind, lang, expected=_choices(str(ctx.get("expected", "")), lang))
    if kind == "value_error":
        cause = ctx.get("error")
        if isinstance(cause, TraceabilityError):
            return _words(kind, lang, error=cause.text(lang))
        text = str(cause) if cause is not None else ""
        return _words(kind, lang, error=text) if text else _words("invalid", lang)
    return _words(kind, lang, **ctx)


def _sentence(where: str, why: str, lang: str) -> str:
    """A field and its problem; Chinese puts a space only after a Latin field name (``biz_step 必须填写``)."""
    gap = "" if lang == "zh-CN" and not where[-1:].isascii() else " "
    return _words("problem", lang, where=where, reason=why, gap=gap)


def where_and_why(error: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """One pydantic error as the field's name and what is wrong with it, in ``lang``."""
    loc = () if error.get("type") == "json_invalid" else tuple(error.get("loc", ()))  # its loc is a byte offset
    return _where(loc, lang), _reason(error, lang)


class RequestInvalid(ValidationFailed):
    """A request FastAPI refused, as our ``validation_failed``, worded when it is rendered: ``detail`` names the
    first problem (and how many more), each problem gives its path, its reason and pydantic's type as its ``code``."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors = [dict(e) for e in errors]
        super().__init__(self.text("en"), self._problems("en"))

    def _problems(self, lang: str) -> list[Problem]:
        return [Problem(path="/" + "/".join(str(p) for p in e.get("loc", ())), reason=where_and_why(e, lang)[1],
                        code=str(e.get("type", "invalid"))) for e in self.errors]  # fmt: skip

    def text(self, lang: str) -> str:
        if not self.errors:
            return _words("request_invalid", lang, first=_words("invalid", lang))
        where, why = where_and_why(self.errors[0], lang)
        first = _sentence(where, why, lang)
        more = len(self.errors) - 1
        return _words("request_invalid_more" if more else "request_invalid", lang, first=first, more=more)

    def sentences(self, lang: str) -> list[str]:
        """Every problem as one sentence in ``lang`` (the error page lists them all)."""
        return [_sentence(w, r, lang) for w, r in (where_and_why(e, lang) for e in self.errors)]

    def to_problem(self, lang: str = "en") -> dict[str, Any]:
        body = super().to_problem(lang)
        body["problems"] = [p.as_dict() for p in self._problems(lang)]
        return body


class MethodNotAllowed(TraceabilityError):
    """A route exists for the path but not for the method (Starlette's 405)."""

    status_code = 405
    code = "method_not_allowed"


def http_error(status: int, *, path: str, method: str, allowed: str | None) -> TraceabilityError | None:
    """Starlette's own refusal as a domain error worded at render time: no route for the path (404), no route for
    the method (405); None for another status (a deliberate ``HTTPException``, rendered as it was raised)."""
    if status == 404:
        return NotFound.keyed(_WORDS, "not_found", path=path)
    if status == 405:
        methods = [m.strip() for m in (allowed or "").split(",") if m.strip()]
        return MethodNotAllowed.keyed(_WORDS, "method_not_allowed", path=path, method=method,
                                      allowed=", ".join(methods) or "—", detail={"allowed": methods})  # fmt: skip
    return None


def http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's refusal as problem JSON in the request's language (the API's answer, and a script's on a page)."""
    error = http_error(exc.status_code, path=request.url.path, method=request.method,
                       allowed=(exc.headers or {}).get("allow") or (exc.headers or {}).get("Allow"))  # fmt: skip
    if error is not None:
        body = error.to_problem(negotiate(request.headers.get("accept-language")))
    else:
        code = "http_error"
        body = {"type": f"urn:traceability:error:{code}", "title": code.replace("_", " "), "status": exc.status_code,
                "detail": exc.detail if isinstance(exc.detail, str) else str(exc.detail), "error": code}  # fmt: skip
    return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON, headers=exc.headers)
