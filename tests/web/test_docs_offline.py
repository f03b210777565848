"""The API documentation opens without the internet: Swagger UI and ReDoc load from the app itself
(fastapi-offline's files), in a browser that may reach nothing but the loopback server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import Live

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _offline(page: Any) -> list[str]:
    """Abort every request that leaves the machine; return the list they are recorded in."""
    refused: list[str] = []

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.context.route("**/*", route)
    return refused


def test_docs_pages_point_at_local_assets(client: TestClient) -> None:
    for path, asset in (("/docs", "/static-offline-docs/swagger-ui-bundle.js"),
                        ("/redoc", "/static-offline-docs/redoc.standalone.js")):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200 and asset in page.text
        assert "cdn.jsdelivr.net" not in page.text and "fonts.googleapis.com" not in page.text
        assert client.get(asset).status_code == 200
    assert '"validatorUrl": null' in client.get("/docs").text.replace("'", '"')


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_render_with_no_internet(page_for: Any, live: Live, path: str) -> None:
    page = page_for()
    refused = _offline(page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live.base_url}{path}")
    if path == "/docs":
        operation = page.locator(".opblock-summary-path", has_text="/api/v1/scans").first
    else:
        operation = page.locator("[data-section-id^='operation/'], [data-section-id^='tag/']").first
    operation.wait_for(state="visible", timeout=20_000)
    if path == "/docs":
        assert page.locator(".opblock").count() > 10  # every operation, not a blank page
    else:
        assert page.get_by_text("/api/v1/scans").count() > 0
    # ReDoc's sidebar credit ("API docs by Redocly") is an image on its maker's CDN, which no option turns off: the
    # only thing tried outside, and it is only that credit's icon that is missing offline.
    assert [url for url in refused if url != "https://cdn.redoc.ly/redoc/logo-mini.svg"] == [], refused
    assert errors == []
