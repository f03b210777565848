"""Page authentication: the API key lives in a cookie; pages then use the same role check as the API.

A browser signs in once with its API key; the key is kept in an HttpOnly, SameSite=Lax cookie and resolved to the
same :class:`~traceability.auth.service.Principal` as a bearer token, so a page sees exactly what the key's role and
party may see through the API. Scripts may still send ``Authorization: Bearer`` to a page route. Unsafe requests
with a cookie must come from our own origin (SameSite covers modern browsers, the Origin check the rest), and so
must the sign-in form itself, which has no cookie yet to protect it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from traceability.api import SessionDep, key_principal
from traceability.auth.service import Principal, authenticate
from traceability.errors import Forbidden, Unauthenticated
from traceability.i18n import Catalogue, messages
from traceability.models import Role
from web.i18n import LANG_COOKIE, negotiate

__all__ = [
    "KEY_COOKIE",
    "OptionalPrincipal",
    "PagePrincipal",
    "page_allow",
    "page_lang",
    "refuse_cross_site",
    "wants_html",
]

KEY_COOKIE = "trc_key"
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

_WORDS: Catalogue = messages("web.deps")


def wants_html(request: Request) -> bool:
    """A browser navigation (``Accept: text/html``) gets pages; API clients and scripts get problem JSON."""
    return "text/html" in request.headers.get("accept", "")


def page_lang(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"), request.cookies.get(LANG_COOKIE))


def _token(request: Request) -> tuple[str | None, bool]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    return request.cookies.get(KEY_COOKIE), True


def _same_origin(request: Request) -> bool:
    # Fetch metadata first: every current browser says where a request comes from; a sibling subdomain
    # ("same-site") is another origin too.
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return True  # not a browser, or one that sends neither: SameSite=Lax already kept cross-site cookies out
    if origin == "null":
        return False
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


def refuse_cross_site(request: Request) -> None:
    """A dependency for forms no other site may post: Forbidden unless the request comes from our own origin."""
    if not _same_origin(request):
        raise Forbidden.keyed(_WORDS, "cross_site_form", detail={"reason": "cross_site"})


def get_page_principal(request: Request) -> Principal:
    token, from_cookie = _token(request)
    if not token:
        raise Unauthenticated.keyed(_WORDS, "sign_in")
    if from_cookie and request.method not in _SAFE and not _same_origin(request):
        raise Forbidden.keyed(_WORDS, "cross_site", detail={"reason": "cross_site"})
    return key_principal(request, token)  # outside the writer queue (traceability.api.key_principal says why)


def get_optional_principal(request: Request, session: SessionDep) -> Principal | None:
    """The signed-in principal on public pages (for the header), or None; a stale cookie is just ignored."""
    token, _ = _token(request)
    if not token:
        return None
    try:
        return authenticate(session=session, token=token)
    except Unauthenticated:
        return None


PagePrincipal = Annotated[Principal, Depends(get_page_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(get_optional_principal)]


def page_allow(*roles: Role) -> Callable[[Principal], Principal]:
    """Like :func:`traceability.api.allow`, for a key from the cookie; its role set is read by the route test."""

    def check(principal: PagePrincipal) -> Principal:
        if principal.role not in roles:
            role = principal.role.value
            raise Forbidden.keyed(_WORDS, "role_refused", role=role, allowed=", ".join(r.value for r in roles),
                                  detail={"role": role})  # fmt: skip
        return principal

    check.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
    return check
