"""Domain errors, one hierarchy for the API and the CLI.

Every error the system raises on purpose derives from :class:`TraceabilityError`, which carries the HTTP status it
maps to. The API renders them once (RFC 9457 problem details); the CLI prints the same message and exits non-zero.

    TraceabilityError
    ├── NotFound (404)
    ├── Conflict (409)
    ├── InvalidInput (422)
    │   ├── ValidationFailed (422, with a list of problems: path and reason)
    │   └── JsonTooDeep (422) a JSON body nested deeper than the settings allow
    ├── PayloadTooLarge (413) a request body (or an image in it) larger than the settings allow
    ├── Unauthenticated (401)
    ├── Forbidden (403)
    └── MethodNotAllowed (405, traceability.problems) a path served, not with this method

``traceability.problems`` words what the framework refuses before a route runs (pydantic's validation, an unknown
route, a wrong method) as these errors, in the request's language.

Domain packages subclass these in their own ``errors.py`` (``codes.errors.ForgedCode`` is an ``InvalidInput``).

An error made with :meth:`TraceabilityError.keyed` carries a catalogue key and its fields beside its English
``message``: the handler words ``detail`` in the request's language at render time, so a service need not know the
caller's language; the CLI and the logs keep the English ``message``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from traceability.i18n import Catalogue, wording

__all__ = [
    "Conflict",
    "CatalogueWorded",
    "Forbidden",
    "InvalidInput",
    "JsonTooDeep",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "TraceabilityError",
    "Unauthenticated",
    "ValidationFailed",
    "Worded",
]


@runtime_checkable
class Worded(Protocol):
    """A field of a keyed message that is words itself (a role's or a status's name, a cause): worded in the
    message's language when the message is, so a service need not know the caller's language for them either."""

    def text(self, lang: str) -> str: ...


class TraceabilityError(Exception):
    """Base of every deliberate error; carries its HTTP status and a machine-readable code."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "error"

    words: tuple[Catalogue, str, Mapping[str, Any]] | None = None
    """The catalogue, key and fields the message was worded from (see :meth:`keyed`); None for a fixed text."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    @classmethod
    def keyed(cls, catalogue: Catalogue, key: str, /, *, detail: Mapping[str, Any] | None = None,
              **params: Any) -> Self:  # fmt: skip
        """The error worded from ``catalogue[lang][key]`` with ``params``: English as its ``message`` (the CLI, the
        logs), the caller's language in the problem body; ``detail`` are the body's machine-readable fields."""
        error = cls(wording(catalogue, key, "en", **_in("en", params)), **dict(detail or {}))
        error.words = (catalogue, key, params)
        return error

    def text(self, lang: str) -> str:
        """The message in ``lang`` where it was made from a key, else the fixed (English) message."""
        if self.words is None:
            return self.message
        catalogue, key, params = self.words
        return wording(catalogue, key, lang, **_in(lang, params))

    def to_problem(self, lang: str = "en") -> dict[str, Any]:
        """Render as an RFC 9457 problem-details body, ``detail`` in ``lang``."""
        body: dict[str, Any] = {
            "type": f"urn:traceability:error:{self.code}",
            "title": self.code.replace("_", " "),
            "status": self.status_code,
            "detail": self.text(lang),
            "error": self.code,
        }
        body.update(self.detail)
        return body


def _in(lang: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a message, words among them (an error the message quotes, a :class:`Worded` name) worded in
    ``lang`` too."""
    return {k: v.text(lang) if isinstance(v, Worded) else v for k, v in params.items()}


class NotFound(TraceabilityError):
    status_code = 404
    code = "not_found"


class Conflict(TraceabilityError):
    status_code = 409
    code = "conflict"


class InvalidInput(TraceabilityError):
    status_code = 422
    code = "invalid_input"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in an input document: where (a JSON-pointer-like path) and why, with the reason's machine code
    beside the words where the domain has one (``code``), so a program need not parse the text."""

    path: str
    reason: str
    code: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"path": self.path, "reason": self.reason}
        if self.code is not None:
            body["code"] = self.code
        return body


class ValidationFailed(InvalidInput):
    """A document was rejected whole; ``problems`` lists every reason, not just the first."""

    code = "validation_failed"

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message, problems=[p.as_dict() for p in problems])
        self.problems = problems

    def __str__(self) -> str:
        lines = [self.message] + [f"  {p.path}: {p.reason}" for p in self.problems]
        return "\n".join(lines)


class JsonTooDeep(InvalidInput):
    """A JSON body nested deeper than ``max_json_depth``: refused before it is parsed, whatever the route."""

    code = "json_too_deep"


class PayloadTooLarge(TraceabilityError):
    """A request body larger than ``max_body_bytes`` (or an image with more pixels than allowed)."""

    status_code = 413
    code = "payload_too_large"


class Unauthenticated(TraceabilityError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(TraceabilityError):
    status_code = 403
    code = "forbidden"


class CatalogueWorded:
    """Mixin for a domain error made from a reason code: worded from the package's ``catalogue`` in the request's
    language, with the reason (and its fields) in the problem body. Put it before the error class it refines."""

    catalogue: ClassVar[Catalogue]

    def __init__(self, reason: str, lang: str = "en", **params: Any) -> None:
        super().__init__(wording(self.catalogue, reason, lang, **params), reason=reason, **params)  # type: ignore[call-arg]
