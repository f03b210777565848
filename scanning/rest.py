"""What every ``/epcis`` response of the EPCIS 2.0 REST binding carries, in one place.

:class:`EpcisHeaders` (pure ASGI, installed by the app factory) adds ``GS1-EPCIS-Version``, ``GS1-CBV-Version`` and
``GS1-Extensions`` to every response under ``/epcis`` (errors included), the capture limits to the capture
endpoint's, and gives a problem body the ``type`` the binding names for it (``epcisException:…``) while keeping
the project's machine code in ``error``: an integrator reads the standard's exception, our clients what they read
today. The helpers shape the binding's documents (query documents, collections) and its ``Link`` header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.store import EPCIS_CONTEXT
from traceability.privacy import MEMBER_NAMESPACE

__all__ = [
    "CBV_VERSION",
    "EPCIS_VERSION",
    "EXTENSIONS",
    "EpcisHeaders",
    "collection",
    "context_prefixes",
    "discovery_headers",
    "next_link",
    "problem_type",
    "query_document",
    "query_document_json",
    "wants_xml",
]

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
EXTENSIONS = f"trc={MEMBER_NAMESPACE}"
"""The one extension namespace our own events use (the member's keyed hash on a sale)."""
PREFIX = "/epcis"

_BY_CODE = {
    "query_parameter_invalid": "epcisException:QueryParameterException",
    "query_too_large": "epcisException:QueryTooLargeException",
    "capture_limit_exceeded": "epcisException:CaptureLimitExceededException",
    "payload_too_large": "epcisException:CaptureLimitExceededException",
    "event_id_conflict": "epcisException:ValidationException",
}
_BY_STATUS = {
    400: "epcisException:ValidationException",
    401: "epcisException:SecurityException",
    403: "epcisException:SecurityException",
    404: "epcisException:NoSuchNameException",
    406: "epcisException:NotAcceptableException",
    409: "epcisException:ResourceAlreadyExistsException",
    413: "epcisException:QueryTooLargeException",
    414: "epcisException:URITooLongException",
    415: "epcisException:UnsupportedMediaTypeException",
    422: "epcisException:ValidationException",
}


def problem_type(status: int, code: str | None) -> str:
    """The binding's exception for a problem of this status and machine code."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status >= 500:
        return "epcisException:ImplementationException"
    return _BY_STATUS.get(status, "epcisException:ValidationException")


class EpcisHeaders:
    """The binding's headers on every ``/epcis`` response and its exception names in every problem body."""

    def __init__(self, app: ASGIApp, *, capture_limit: int, file_size_limit: int) -> None:
        self.app = app
        self.capture_headers = {
            "GS1-EPCIS-Capture-Limit": str(capture_limit),
            "GS1-EPCIS-Capture-File-Size-Limit": str(file_size_limit),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        capture = path.rstrip("/") == PREFIX + "/capture"
        held: list[Message] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("GS1-EPCIS-Version", EPCIS_VERSION)
                headers.setdefault("GS1-CBV-Version", CBV_VERSION)
                headers.setdefault("GS1-Extensions", EXTENSIONS)
                if capture:
                    for name, value in self.capture_headers.items():
                        headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("application/problem+json"):
                    held.append(message)  # the body is rewritten once it is whole (problem bodies are small)
                    return
                await send(message)
                return
            if not held or message["type"] != "http.response.body":
                await send(message)
                return
            held.append(message)
            if message.get("more_body", False):
                return
            start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
            held.clear()
            body = _with_exception_type(body, int(start["status"]))
            MutableHeaders(scope=start)["content-length"] = str(len(body))
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_with_headers)


def _with_exception_type(body: bytes, status: int) -> bytes:
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if not isinstance(problem, dict):
        return body
    code = problem.get("error")
    problem["type"] = problem_type(status, code if isinstance(code, str) else None)
    problem.setdefault("title", str(code or "error").replace("_", " "))
    return json.dumps(problem, ensure_ascii=False).encode("utf-8")


def discovery_headers(allow: str, *, capture: bool = False) -> dict[str, str]:
    """The headers an ``OPTIONS`` answers with (204): methods, versions, formats; the capture limits come from
    :class:`EpcisHeaders`."""
    headers = {
        "Allow": allow,
        "GS1-EPCIS-Min": EPCIS_VERSION,
        "GS1-EPCIS-Max": EPCIS_VERSION,
        "GS1-CBV-Min": CBV_VERSION,
        "GS1-CBV-Max": CBV_VERSION,
        "GS1-EPC-Format": "Never_Translates",
        "GS1-CBV-XML-Format": "Never_Translates",
        "GS1-Vendor-Version": "traceability-0.1.0",
    }
    if capture:
        headers["GS1-Capture-Error-Behaviour"] = "rollback"
    return headers


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _query_shell(prefixes: Mapping[str, str], query_name: str, events: list[Any]) -> dict[str, Any]:
    document_context: list[Any] = [EPCIS_CONTEXT]
    if prefixes:
        document_context.append(dict(sorted(prefixes.items())))
    return {
        "@context": document_context,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": _now(),
        "epcisBody": {"queryResults": {"queryName": query_name, "resultsBody": {"eventList": events}}},
    }


def query_document(events: Sequence[Mapping[str, Any]], query_name: str = "SimpleEventQuery") -> dict[str, Any]:
    """Events as the binding's EPCISQueryDocument (JSON-LD); the prefixes their extensions use move up into the
    document's ``@context`` (an event keeps its own only where two events give one prefix two namespaces)."""
    prefixes: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for event in events:
        copy = dict(event)
        context = copy.pop("@context", None)
        own = context_prefixes(context)
        if any(prefixes.get(p, ns) != ns for p, ns in own.items()):
            copy["@context"] = context
        else:
            prefixes.update(own)
        out.append(copy)
    return _query_shell(prefixes, query_name, out)


_CONTEXT_HEAD = '{"@context":'
_DECODER = json.JSONDecoder()


def _split_context(text: str) -> tuple[object, str]:
    """A stored event's ``@context`` and its JSON text without it. The stored form (sorted keys, no spaces) puts
    ``@context`` first, so only the context is parsed; any other spelling is parsed whole."""
    if text.startswith(_CONTEXT_HEAD):
        start = len(_CONTEXT_HEAD)
        while text[start : start + 1].isspace():
            start += 1
        context, end = _DECODER.raw_decode(text, start)
        rest = text[end:].lstrip()
        return context, "{" + (rest[1:] if rest.startswith(",") else rest)
    if '"@context"' not in text:
        return None, text
    doc = json.loads(text)
    context = doc.pop("@context", None)
    return context, _dumps(doc)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))  # as JSONResponse writes


def query_document_json(documents: Sequence[str], query_name: str = "SimpleEventQuery") -> bytes:
    """:func:`query_document` of stored event texts, encoded: each event is spliced in as stored rather than parsed
    and written again, which is most of what answering a query costs (``benchmarks/query.py``)."""
    prefixes: dict[str, str] = {}
    out: list[str] = []
    head, head_context = "", None  # the last event's text up to the comma after its @context, and that context
    last_context: object = object()  # the context the last prefixes check was of, and whether it clashed
    keeps_own = False
    for text in documents:
        if head and text.startswith(head):  # events of one capture share their context: parsed once
            context, bare = head_context, "{" + text[len(head) :]
        else:
            context, bare = _split_context(text)
            cut = len(text) - len(bare) + 1
            head, head_context = (
                (text[:cut], context) if text[cut - 1 : cut] == "," and text[cut:] == bare[1:] else ("", None)
            )
        if context is not last_context:  # the same context as the last event's: the same answer
            own = context_prefixes(context)
            last_context, keeps_own = context, any(prefixes.get(p, ns) != ns for p, ns in own.items())
            if not keeps_own:
                prefixes.update(own)
        out.append(text if keeps_own else bare)
    shell = _dumps(_query_shell(prefixes, query_name, []))
    tail = "[]}}}}"  # eventList is the last member of the three objects that hold it and of the document
    assert shell.endswith(tail)
    return (shell[: -len(tail)] + "[" + ",".join(out) + "]}}}}").encode("utf-8")


def context_prefixes(context: object) -> dict[str, str]:
    """The prefixes a JSON-LD ``@context`` defines (its ``{"example": "http://…"}`` entries)."""
    found: dict[str, str] = {}
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, Mapping):
            found.update({k: v for k, v in item.items() if isinstance(v, str) and not k.startswith("@")})
    return found


def collection(members: Sequence[str]) -> dict[str, Any]:
    """A JSON-LD ``Collection`` of names or URIs (top-level resources and their values)."""
    return {"@context": EPCIS_CONTEXT, "type": "Collection", "member": list(members)}


def next_link(path: str, params: Sequence[tuple[str, str]], token: str) -> str:
    """The ``Link`` header of the next page: this request's query with the new token."""
    kept = [(k, v) for k, v in params if k != "nextPageToken"] + [("nextPageToken", token)]
    return f'<{path}?{urlencode(kept)}>; rel="next"'


def wants_xml(accept: str | None) -> bool:
    """Whether the client asks for the XML binding (``application/xml`` or ``text/xml`` ahead of JSON)."""
    if not accept:
        return False
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept.split(",")):
        kind, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.strip().lower()
        if q > 0 and kind:
            ranked.append((-q, i, kind))
    for _, _, kind in sorted(ranked):
        if kind in ("application/xml", "text/xml"):
            return True
        if kind.endswith("json") or kind in ("*/*", "application/*"):
            return False
    return False
