"""Errors of the EPCIS 2.0 REST binding, worded in the request's language (zh-CN or en).

TraceabilityError
├── NotFound (404)
│   └── NoSuchResource         an event, capture job or resource the caller cannot see (or that does not exist)
├── QueryParameterInvalid (400) a query parameter the binding does not define, or a value it cannot hold; ``parameter``
│                               names it (the binding's QueryParameterException; a forged ``nextPageToken`` too)
├── HeaderInvalid (400)        a header of the binding with a value it does not define (``GS1-Capture-Error-Behaviour:
│                               proceeed``); ``header`` names it — not silently read as the default
├── QueryTooLarge (413)        more events match than the query's ``maxEventCount`` allows
├── NotAcceptable (406)        an ``Accept`` this binding cannot answer in
├── XmlSchemaInvalid (400)     an XML document GS1's XSD refuses (``Settings.epcis_xsd_dir``); ``line`` names where
├── Forbidden (403)
│   └── VocabularyNotOwned     header master data that would change another party's vocabulary elements
└── PayloadTooLarge (413)
    └── CaptureLimitExceeded   a document with more events than ``GS1-EPCIS-Capture-Limit``

Each takes the language and words its message from a small table; the machine code (``error``) and the fields
(``parameter``, ``limit``) are the same in both languages.
"""

from __future__ import annotations

from typing import Any

from traceability.errors import Forbidden, NotFound, PayloadTooLarge, Problem, TraceabilityError
from traceability.i18n import Catalogue, messages

__all__ = [
    "CaptureLimitExceeded",
    "HeaderInvalid",
    "NoSuchResource",
    "NotAcceptable",
    "QueryParameterInvalid",
    "QueryTooLarge",
    "VocabularyNotOwned",
    "XmlSchemaInvalid",
    "worded",
]

_MESSAGES: Catalogue = messages("scanning.epcis_errors")


def worded(lang: str, key: str, **values: Any) -> str:
    """The message ``key`` in ``lang`` (English when the language is not one we have)."""
    return _MESSAGES.get(lang, _MESSAGES["en"])[key].format(**values)


class NoSuchResource(NotFound):
    """Unknown, or not visible to the caller: the two are one answer, so a key cannot probe another party's ids."""

    code = "no_such_resource"

    def __init__(self, lang: str, *, kind: str, name: str) -> None:
        key = {"event": "no_such_event", "capture": "no_such_capture"}.get(kind, "no_such_resource")
        super().__init__(worded(lang, key, kind=kind, name=name[:200]), resource=kind)


class QueryParameterInvalid(TraceabilityError):
    """A query string the binding cannot run: an unknown parameter, a bad value, a token not issued for it."""

    status_code = 400
    code = "query_parameter_invalid"

    def __init__(self, lang: str, *, parameter: str, why: str | None = None, token: bool = False) -> None:
        if token:
            message = worded(lang, "bad_token", why=why)
        elif why is None:
            message = worded(lang, "unknown_parameter", parameter=parameter[:100])
        else:
            message = worded(lang, "bad_value", parameter=parameter[:100], why=why)
        super().__init__(message, parameter=parameter[:100])


class HeaderInvalid(TraceabilityError):
    """A value the binding does not define for one of its headers: a typo must not quietly mean the default."""

    status_code = 400
    code = "header_invalid"

    def __init__(self, lang: str, *, header: str, value: str, allowed: tuple[str, ...]) -> None:
        sep = "、" if lang.startswith("zh") else ", "
        super().__init__(worded(lang, "bad_header", header=header, value=value[:100], allowed=sep.join(allowed)),
                         header=header, allowed=list(allowed))  # fmt: skip


class QueryTooLarge(TraceabilityError):
    """More matching events than ``maxEventCount``: the binding's QueryTooLargeException."""

    status_code = 413
    code = "query_too_large"

    def __init__(self, lang: str, *, limit: int) -> None:
        super().__init__(worded(lang, "too_many_events", limit=limit), limit=limit)


class NotAcceptable(TraceabilityError):
    """An ``Accept`` the resource has no representation for; ``json_only`` for the resources the binding gives in
    JSON alone (the capture job list)."""

    status_code = 406
    code = "not_acceptable"

    def __init__(self, lang: str, *, accept: str, json_only: bool = False) -> None:
        key = "not_acceptable_json" if json_only else "not_acceptable"
        super().__init__(worded(lang, key, accept=accept[:100]), reason=key)


class XmlSchemaInvalid(TraceabilityError):
    """An XML document that GS1's XSD refuses: the binding's ValidationException (400), with the XSD's own message
    and line in ``line`` and ``problems`` (the first 20 of them) and the machine reason ``xsd_invalid``."""

    status_code = 400
    code = "xsd_invalid"

    def __init__(self, lang: str, *, schema: str, problems: list[tuple[int, str]]) -> None:
        line, message = problems[0]
        super().__init__(worded(lang, "xsd_invalid", schema=schema, line=line, message=message[:300]),
                         reason="xsd_invalid", schema=schema, line=line,
                         problems=[Problem(f"line {n}", m[:300]).as_dict() for n, m in problems[:20]])  # fmt: skip


class VocabularyNotOwned(Forbidden):
    """Header master data that would change vocabulary elements another party owns (``scanning.epcis_masterdata``):
    the whole document is refused, each element named in ``elements`` (its path, type and id)."""

    code = "vocabulary_not_owned"

    def __init__(self, lang: str, *, elements: list[dict[str, str]]) -> None:
        super().__init__(worded(lang, "vocabulary_not_owned", count=len(elements), first=elements[0]["id"][:100]),
                         reason="vocabulary_not_owned", elements=elements[:50])  # fmt: skip


class CaptureLimitExceeded(PayloadTooLarge):
    """More events in one document than the capture limit (``Settings.max_capture_events``), refused unread."""

    code = "capture_limit_exceeded"

    def __init__(self, lang: str, *, count: int, limit: int) -> None:
        TraceabilityError.__init__(self, worded(lang, "capture_limit", count=count, limit=limit), limit=limit,
                                   events=count)  # fmt: skip
