"""Large EPCIS JSON capture documents read as a stream (ijson), so memory stays flat in the document's size.

:func:`read_json` reads the small top-level parts of a document (header, ``@context``, every field but the events)
in one pass over the bytes and hands back a :class:`StreamedDocument` whose ``epcisBody.eventList`` is parsed again,
lazily, a chunk of events at a time (:meth:`StreamedDocument.chunks`): the parsed form of the whole event list,
several times the size of its text, never exists at once. Capture (:func:`scanning.epcis.capture_document`) takes
either form and gives the same result.

What is accepted and refused, and every error message, must be exactly those of ``json.loads``: ijson (yajl)
differs from it at the edges (a UTF-8 BOM, NaN and Infinity, integers beyond 64 bits, lone surrogates, form feeds as
white space, duplicate keys on the path to the events). So a document is streamed only when it has none of them and
ijson parses it without complaint; anything else is read by the ``loads`` given (``json.loads`` by default), which
raises its own error or returns the plain dict, as before. ``tests/scanning/test_epcis_stream_read.py`` compares
both readers on generated and mutated documents.
"""

from __future__ import annotations

import json
import mmap
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import ijson

__all__ = ["STREAM_CHUNK", "STREAM_FROM", "StreamedDocument", "read_json"]

STREAM_CHUNK = 2000
"""Events parsed at a time: a chunk is what is held in memory, whatever the document's size."""
STREAM_FROM = 1 << 20
"""Bytes below which a document is simply parsed whole: streaming pays off only for large ones."""
_MAX_DEPTH = 256
"""Deeper than this, json.loads may fail on recursion where ijson would not: such a document is read by ``loads``."""

_EVENTS = "epcisBody.eventList.item"
# Anything where ijson (yajl) and json.loads could part ways: control characters (yajl takes \v and \f as white
# space), a BOM, UTF-8 surrogates and surrogate escapes, non-finite numbers, very long digit runs. Matches inside
# strings are harmless: the document is then only read the plain way.
_ODD = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbb\xbf|\xed[\xa0-\xbf]|\\u[dD][89a-fA-F]|NaN|Infinity|[0-9]{19}"
)
_LEAD = re.compile(rb"[ \t\n\r]*\{")

Source = bytes | bytearray | memoryview | IO[bytes]
Loads = Callable[[bytes], Any]


@dataclass(eq=False)
class StreamedDocument:
    """An EPCISDocument whose events are read from its bytes on demand.

    ``top`` is the document with ``epcisBody.eventList`` empty (everything capture reads besides the events);
    ``count`` the number of events, known before any is parsed (the capture limit is checked on it)."""

    top: dict[str, Any]
    count: int
    _data: Any  # bytes or a read-only mmap of the file

    def events(self) -> Iterator[Any]:
        """Every event, parsed one at a time, as ``json.loads`` would give it."""
        return ijson.items(self._reader(), _EVENTS, use_float=True)  # type: ignore[no-any-return]

    def chunks(self, size: int = STREAM_CHUNK) -> Iterator[list[Any]]:
        """The events a list of at most ``size`` at a time, in document order (a new parse each call)."""
        chunk: list[Any] = []
        for event in self.events():
            chunk.append(event)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def materialise(self) -> dict[str, Any]:
        """The whole document as ``json.loads`` gives it (for the JSON schema, which needs all of it at once)."""
        document = json.loads(bytes(self._data))
        assert isinstance(document, dict)
        return document

    def _reader(self) -> Any:
        if isinstance(self._data, mmap.mmap):
            self._data.seek(0)
            return self._data
        return self._data


def _as_buffer(source: Source) -> Any:
    """Bytes, or a read-only map of a file (its pages are the file's, not the process's heap)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source) if not isinstance(source, bytes) else source
    try:
        fileno = source.fileno()
        source.seek(0, 2)
        if source.tell() > 0:
            return mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError, AttributeError):
        pass
    source.seek(0)
    return source.read()


def read_json(source: Source, *, loads: Loads = json.loads, stream_from: int | None = None) -> Any:
    """A JSON capture document: a :class:`StreamedDocument` for a large, plain EPCISDocument, else what ``loads``
    returns for the bytes (raising what it raises), so the accepted documents and the errors are ``loads``'s.
    ``stream_from``: the size from which to stream (default :data:`STREAM_FROM`)."""
    data = _as_buffer(source)
    large = len(data) >= (STREAM_FROM if stream_from is None else stream_from)
    if large and _LEAD.match(data) and _ODD.search(data) is None:
        top = _top(data)
        if top is not None:
            return StreamedDocument(top[0], top[1], data)
    return loads(data if isinstance(data, bytes) else data[:])


def _top(data: Any) -> tuple[dict[str, Any], int] | None:
    """The document without its events and their number; None when it must be read the plain way (not an
    EPCISDocument with an ``epcisBody.eventList`` array, a key given twice or dotted on the way there, too deep,
    or anything ijson refuses)."""
    if isinstance(data, mmap.mmap):
        data.seek(0)
    builder = ijson.ObjectBuilder()
    path: list[str | None] = []  # the key of each open map (None for an array)
    keys: list[set[str]] = []
    count = 0
    try:
        tokens = ijson.basic_parse(data, use_float=True)
        for event, value in tokens:
            if event == "map_key":
                if len(path) <= 2 and ("." in value or value in keys[-1]):
                    return None
                keys[-1].add(value)
                path[-1] = value
            elif event == "start_map" or event == "start_array":
                if len(path) >= _MAX_DEPTH:
                    return None
                if len(path) == 2 and path == ["epcisBody", "eventList"] and event == "start_array":
                    builder.event(event, value)
                    builder.event("end_array", None)
                    count = _skipped(tokens)  # the events: counted, not kept
                    if count < 0:
                        return None
                    continue
                path.append(None)
                keys.append(set())
            elif event == "end_map" or event == "end_array":
                path.pop()
                keys.pop()
            builder.event(event, value)
    except (ijson.JSONError, UnicodeDecodeError, ValueError):
        return None
    document = builder.value
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        return None
    body = document.get("epcisBody")
    if not isinstance(body, dict) or not isinstance(body.get("eventList"), list):
        return None
    return document, count


def _skipped(tokens: Iterator[tuple[str, Any]]) -> int:
    """Read past the items of the event list up to its end, and count them (-1: nested too deep)."""
    count = level = 0
    for event, _ in tokens:
        if event == "start_map" or event == "start_array":
            level += 1
            if level == 1:
                count += 1
            elif level > _MAX_DEPTH:
                return -1
        elif event == "end_map" or event == "end_array":
            if level == 0:
                return count
            level -= 1
        elif level == 0:
            count += 1  # a scalar in place of an event
    return count
