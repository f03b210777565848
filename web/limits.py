"""Rate limits on the public doors: the consumer check (page, resolver, ``/check/inspect``) and sign-in.

Anyone may check a code, so the doors are limited twice. Per client (its address; an IPv6 client by its /64, which
it can rotate within at will) so that one machine cannot probe codes or flood the check counter; per code (its
matching key, from every client together) so that no botnet can inflate one code's "checked N times" or hammer it.
Sign-in has a per-client limit of its own against key guessing. The limits are settings; a refused request is a
:class:`RateLimited` (429) with ``Retry-After``, rendered like every other domain error: problem JSON with
``reason: "rate_limited"`` for scripts, the error page for browsers, in the request's language.

The counting is the ``limits`` library's (moving windows, per-key counters, memory or a shared store such as Redis
by URI), one limiter per app, so every app built from its own :class:`~traceability.settings.Settings` counts on
its own. The client's address is the connection's; ``X-Forwarded-For``, which any client can write, is read only as
far as ``trusted_proxy_hops`` reverse proxies of ours appended to it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from ipaddress import IPv6Address, ip_address, ip_network

from fastapi import FastAPI, Request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, MovingWindowSupport, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.keys import is_sgtin_key, is_sscc_key, key_of
from traceability.errors import TraceabilityError
from traceability.i18n import Catalogue, messages
from traceability.settings import Settings

_PAGES: Catalogue = messages("web")  # the pages' words, for the errors a page raises (worded when shown)

__all__ = [
    "RETRY_AFTER_SCOPE_KEY",
    "PublicLimits",
    "RateLimited",
    "RetryAfter",
    "install_limits",
    "limit_check_page",
    "limit_code",
    "limit_login",
    "limit_public",
    "limit_resolver",
]

log = logging.getLogger(__name__)

RETRY_AFTER_SCOPE_KEY = "traceability.retry_after"
"""Where a refusal leaves its wait in seconds, for :class:`RetryAfter` to send as the ``Retry-After`` header."""

_STORE_RETRY_SECONDS = 30.0
"""After the shared store fails, count in memory for this long before trying it again."""


class RateLimited(TraceabilityError):
    """Too many requests from one client, or for one code; ``retry_after`` says how many seconds to wait."""

    status_code = 429
    code = "rate_limited"


def _limiter(storage: Storage) -> RateLimiter:
    # A moving window where the store keeps one (memory, Redis, MongoDB): no double burst at a window's edge.
    if isinstance(storage, MovingWindowSupport):
        return MovingWindowRateLimiter(storage)
    return FixedWindowRateLimiter(storage)


class PublicLimits:
    """One app's limits and counts (``app.state.public_limits``), read from its settings once."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        self.client = parse_many(settings.public_rate_limit_client)
        self.code = parse_many(settings.public_rate_limit_code)
        self.login = parse_many(settings.login_rate_limit)
        self.proxy_hops = settings.trusted_proxy_hops
        shared = storage_from_string(settings.rate_limit_storage, wrap_exceptions=True)
        if not isinstance(shared, Storage):
            raise ValueError(f"{settings.rate_limit_storage!r} names an asynchronous store; name its plain one")
        self._shared = _limiter(shared)
        self._local = self._shared if isinstance(shared, MemoryStorage) else _limiter(MemoryStorage())
        self._store_down_until = 0.0

    def client_of(self, request: Request) -> str:
        """The client a request counts against: its address (an IPv6 one by its /64), behind ``trusted_proxy_hops``
        proxies the one the farthest of them appended to ``X-Forwarded-For``."""
        host = request.client.host if request.client else ""
        if self.proxy_hops:
            forwarded = [a.strip() for h in request.headers.getlist("x-forwarded-for") for a in h.split(",")]
            forwarded = [a for a in forwarded if a]
            if forwarded:
                host = forwarded[-min(self.proxy_hops, len(forwarded))]
        try:
            address = ip_address(host)
        except ValueError:
            return host[:100] or "unknown"  # not an address (a test client's "testclient"): itself
        if isinstance(address, IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ip_network(f"{address}/64", strict=False))
        return str(address)

    def check_client(self, request: Request) -> None:
        """Count one consumer check by the client (over all three doors); RateLimited when over the limit."""
        self._hit(request, self.client, "client", self.client_of(request))

    def check_login(self, request: Request) -> None:
        """Count one sign-in attempt by the client; RateLimited when over the limit."""
        self._hit(request, self.login, "login", self.client_of(request))

    def check_code(self, request: Request, text: str | None) -> None:
        """Count one check of the code ``text`` names (by its matching key); a text that names none is not counted."""
        if not text:
            return
        key = key_of(text[:2000])
        if is_sgtin_key(key) or is_sscc_key(key):
            self._hit(request, self.code, "code", key)

    def _hit(self, request: Request, items: Sequence[RateLimitItem], bucket: str, who: str) -> None:
        if not self.enabled:
            return
        try:
            wait = _count(self._local if time.monotonic() < self._store_down_until else self._shared, items, bucket,
                          who)  # fmt: skip
        except StorageError as exc:
            # The shared store is down: count in this process for a while rather than fail the door (or open it).
            log.warning("rate-limit store unreachable (%s); counting in memory for %.0f s", exc, _STORE_RETRY_SECONDS)
            self._store_down_until = time.monotonic() + _STORE_RETRY_SECONDS
            wait = _count(self._local, items, bucket, who)
        if wait is None:
            return
        request.scope[RETRY_AFTER_SCOPE_KEY] = wait
        detail = {"reason": "rate_limited", "limited_by": bucket, "retry_after": wait}
        raise RateLimited.keyed(_PAGES, f"rate_limited.{bucket}", seconds=wait, detail=detail)


def _count(limiter: RateLimiter, items: Sequence[RateLimitItem], bucket: str, who: str) -> int | None:
    """Count one hit against each limit: None while all allow it, else the whole seconds (at least 1) until the
    first one that refused frees a place."""
    for item in items:
        if not limiter.hit(item, bucket, who):
            reset = limiter.get_window_stats(item, bucket, who).reset_time
            return max(1, math.ceil(reset - time.time()))
    return None


class RetryAfter:
    """Adds ``Retry-After`` to a 429 a limit refused (pure ASGI), whichever renderer answered: page or problem JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                wait = scope.get(RETRY_AFTER_SCOPE_KEY)
                if wait is not None:
                    MutableHeaders(scope=message)["Retry-After"] = str(wait)
            await send(message)

        await self.app(scope, receive, send_with_retry_after)


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Give the app its limiter and the ``Retry-After`` header; the app factory calls this once."""
    app.state.public_limits = PublicLimits(settings)
    app.add_middleware(RetryAfter)


def _limits(request: Request) -> PublicLimits:
    limits: PublicLimits = request.app.state.public_limits
    return limits


# --- the dependencies the public routes declare -------------------------------------------------------------------


def limit_public(request: Request) -> None:
    """A consumer check: one more for the client (the code is counted where the route has it)."""
    _limits(request).check_client(request)


def limit_code(request: Request, text: str | None) -> None:
    """One more check of the code ``text`` names."""
    _limits(request).check_code(request, text)


def limit_check_page(request: Request) -> None:
    """The check page with a code: one more for the client and for the code (the bare form is not a check)."""
    code = request.query_params.get("code", "").strip()
    if code:
        limits = _limits(request)
        limits.check_client(request)
        limits.check_code(request, code)


def limit_resolver(request: Request) -> None:
    """The resolver page: one more for the client and for the code in its path."""
    limits = _limits(request)
    limits.check_client(request)
    limits.check_code(request, str(request.url))


def limit_login(request: Request) -> None:
    """A sign-in attempt: one more for the client."""
    _limits(request).check_login(request)
