"""Mount the pages and their static files on the API app; the app factory calls this once."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["mount_web"]

STATIC_DIR = Path(__file__).parent / "static"


def mount_web(app: FastAPI) -> None:
    """Add the page router and ``/static`` (vendored, so a page never loads anything from the internet)."""
    from web.admin_pages import router as admin_pages
    from web.crm_pages import router as crm_pages
    from web.marketing_pages import router as marketing_pages
    from web.orders_pages import router as orders_pages
    from web.overview_pages import router as overview_pages  # noqa: I001  (last: see web.overview_pages)
    from web.pages import router as role_pages
    from web.partner_pages import router as partner_pages
    from web.pos_pages import router as pos_pages
    from web.receiving_pages import router as receiving_pages
    from web.routes import http_error_page, router

    app.include_router(router)
    app.include_router(role_pages)
    app.include_router(pos_pages)
    app.include_router(orders_pages)
    app.include_router(crm_pages)
    app.include_router(marketing_pages)
    app.include_router(partner_pages)
    app.include_router(admin_pages)
    app.include_router(receiving_pages)
    app.include_router(overview_pages)  # last: it puts the overview first in the header and makes it every home
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(StarletteHTTPException, http_error_page)  # an unknown page: the error page, with the nav
