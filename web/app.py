"""Mount the pages and their static files on the API app; the app factory calls this once."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

__all__ = ["mount_web"]

STATIC_DIR = Path(__file__).parent / "static"


def mount_web(app: FastAPI) -> None:
    """Add the page router and ``/static`` (vendored, so a page never loads anything from the internet)."""
    from web.pages import router as role_pages
    from web.partner_pages import router as partner_pages
    from web.pos_pages import router as pos_pages
    from web.routes import router

    app.include_router(router)
    app.include_router(role_pages)
    app.include_router(pos_pages)
    app.include_router(partner_pages)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
