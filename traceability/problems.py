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
from traceability.i18n import Catalogue, messages, negotiate, wording

__all__ = ["PROBLEM_JSON", "MethodNotAllowed", "RequestInvalid", "http_error", "http_problem", "where_and_why"]

PROBLEM_JSON = "application/problem+json"

_WORDS: Catalogue = messages("traceability.problems")

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
