"""Hostile input against a real server: malformed EPCIS documents, oversized and over-deep bodies, image bombs,
ids beyond 64 bits, cross-site sign-in. Each is a 4xx that names the problem (a machine ``error`` code and a
message), the server's peak memory stays under 500 MB, and nothing already stored changes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel

from tests.robustness.conftest import Server
from tests.robustness.documents import MB, document, full_events, malformed_documents
from tests.robustness.images import png_bomb, progressive_jpeg_bomb
from traceability.settings import Settings

BOMB_GROWTH_BOUND = 64 * MB
"""What refusing every bomb may add to the server's peak memory: they are refused from their header, unread."""
DECODE_GROWTH_BOUND = 350 * MB
"""What decoding the largest images accepted may add to it (a 7,000 x 7,000 16-bit RGBA PNG is 392 MB as stored:
it must never be held so), measured from the server's own resident set when the test starts, so that what earlier
tests left in the same server's heap does not count."""
LIMITS = Settings()  # the defaults: the server runs with them
HTML = {"Accept": "text/html", "Accept-Language": "en"}


def digest(server: Server) -> str:
    """One hash over every row of every table, in primary-key order."""
    h = hashlib.sha256()
    with Session(server.engine) as session:
        for table in SQLModel.metadata.sorted_tables:
            h.update(table.name.encode())
            for row in session.execute(sa_select(table).order_by(*table.primary_key.columns)):
                h.update(repr(tuple(row)).encode())
    return h.hexdigest()


@pytest.fixture
def unchanged(server: Server) -> Iterator[None]:
    """Nothing stored before the test is changed by it, and nothing is added."""
    before = digest(server)
    yield
    server.alive()
    assert digest(server) == before, "hostile input changed what the database holds"


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    # the assertions read the English wording: a request without Accept-Language is answered in Chinese
    with server.client(timeout=120, headers={**server.auth, "Accept-Language": "en"}) as client:
        yield client


def problem(response: httpx.Response, status: int | tuple[int, ...], error: str) -> dict[str, object]:
    """The response is a problem document with this status and machine code; returns it."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, f"{response.status_code}: {response.text[:500]}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, object] = response.json()
    assert body["error"] == error and body["status"] == response.status_code and body["detail"], body
    return body


def test_fifty_malformed_documents_are_each_refused_naming_the_problem(http: httpx.Client, server: Server) -> None:
    cases = malformed_documents()
    assert len(cases) == 50
    before = digest(server)
    wrong: list[str] = []
    for name, body, word in cases:
        for content_type in ("application/ld+json", "text/plain"):
            response = http.post("/epcis/capture", content=body, headers={"Content-Type": content_type})
            text = response.text
            if not (400 <= response.status_code < 500 and response.status_code not in (401, 403, 404)):
                wrong.append(f"{name} ({content_type}): {response.status_code} {text[:300]}")
            elif "error" not in response.json() or word.lower() not in text.lower():
                wrong.append(f"{name} ({content_type}): {response.status_code} does not say {word!r}: {text[:300]}")
            elif len(text) > 20_000:
                wrong.append(f"{name} ({content_type}): the refusal is {len(text):,} bytes long")
    server.alive()
    assert not wrong, "\n".join(wrong)
    assert digest(server) == before


@pytest.mark.usefixtures("unchanged")
def test_a_body_over_the_limit_is_refused_naming_the_limit(http: httpx.Client) -> None:
    limit = LIMITS.max_body_bytes
    big = json.dumps(document(*full_events("88880000"), padding="p" * (limit + MB))).encode()
    declared = http.post("/epcis/capture", content=big, headers={"Content-Type": "application/json"})
    body = problem(declared, 413, "payload_too_large")
    assert body["limit"] == limit and f"{limit:,}" in str(body["detail"])
    assert declared.headers["GS1-EPCIS-Capture-File-Size-Limit"] == str(limit)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(big), MB):
            yield big[start : start + MB]

    problem(http.post("/epcis/capture", content=chunks(), headers={"Content-Type": "application/json"}), 413,
            "payload_too_large")  # fmt: skip
    photo = {"image": ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(limit), "image/png")}
    problem(http.post("/api/v1/scans/image", files=photo, data={"biz_step": "receiving"}), 413, "payload_too_large")
    for lang, title in (("en", "Too large"), ("zh-CN", "内容过大")):  # a page says it in the page's language
        page = http.post("/app/decode", files={"frame": ("f.png", bytes(limit + 1), "image/png")},
                         headers={**HTML, "Accept-Language": lang})  # fmt: skip
        assert page.status_code == 413 and "text/html" in page.headers["content-type"], page.text[:300]
        assert title in page.text and f"{limit:,}" in page.text


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("levels", [LIMITS.max_json_depth + 1, 200_000])
def test_json_nested_too_deep_is_refused_on_every_json_route(http: httpx.Client, levels: int) -> None:
    deep = "[" * levels + "]" * levels
    bodies = {
        "/epcis/capture": '{"type": "EPCISDocument", "epcisBody": {"eventList": ' + deep + "}}",
        "/api/v1/scans": '{"biz_step": "receiving", "codes": ' + deep + "}",
        "/api/v1/shipments": '{"destination": ' + deep + "}",
        "/check/inspect": '{"code": "x", "lat": 0, "lon": 0, "extra": ' + deep + "}",
        "/api/v1/masterdata": deep,
    }
    for path, raw in bodies.items():
        body = problem(http.post(path, content=raw, headers={"Content-Type": "application/json"}), 422,
                       "json_too_deep")  # fmt: skip
        assert body["limit"] == LIMITS.max_json_depth and "nested" in str(body["detail"]), (path, body)


@pytest.mark.usefixtures("unchanged")
def test_image_bombs_are_refused_from_their_header_and_memory_stays_bounded(
    http: httpx.Client, server: Server
) -> None:
    limit = LIMITS.max_image_pixels
    server.reset_peak()
    start = server.status("VmRSS")
    bombs = {
        "25,000 x 25,000 PNG": png_bomb(25_000, 25_000),
        "25,000 x 25,000 16-bit RGBA PNG": png_bomb(25_000, 25_000, bit_depth=16, color_type=6),
        "10,000 x 10,000 16-bit RGBA PNG": png_bomb(10_000, 10_000, bit_depth=16, color_type=6),
        "65,000 x 65,000 progressive JPEG": progressive_jpeg_bomb(),
    }
    for name, data in bombs.items():
        scan = http.post("/api/v1/scans/image", files={"image": ("bomb", data, "image/png")},
                         data={"biz_step": "receiving"})  # fmt: skip
        body = problem(scan, 413, "image_too_large")
        assert body["limit"] == limit and f"{limit:,}" in str(body["detail"]), (name, body)
        frame = http.post("/app/decode", files={"frame": ("bomb", data, "image/png")})
        problem(frame, 413, "image_too_large")
    cut = png_bomb(2000, 2000)[:-100]
    body = problem(http.post("/api/v1/scans/image", files={"image": ("cut.png", cut, "image/png")},
                             data={"biz_step": "receiving"}), 422, "corrupt_image")  # fmt: skip
    assert "PNG" in str(body["detail"])
    after_bombs = server.status("VmHWM")
    # The largest images accepted decode within bounded memory too: 16-bit RGBA is 8 bytes a pixel as stored.
    for data in (png_bomb(7_000, 7_000, bit_depth=16, color_type=6), png_bomb(8_000, 6_000, bit_depth=16)):
        accepted = http.post("/api/v1/scans/image", files={"image": ("blank.png", data, "image/png")},
                             data={"biz_step": "receiving"})  # fmt: skip
        assert accepted.status_code == 200 and accepted.json()["accepted"] == [], accepted.text[:300]
    peak = server.status("VmHWM")
    print(f"\nserver RSS {start / MB:.0f} MB at the start, peak {after_bombs / MB:.0f} MB after the bombs, "
          f"{peak / MB:.0f} MB after the largest images accepted")  # fmt: skip
    assert after_bombs - start < BOMB_GROWTH_BOUND, f"the bombs took the peak from {start / MB:.0f} to " \
        f"{after_bombs / MB:.0f} MB"  # fmt: skip
    assert peak - start < DECODE_GROWTH_BOUND, f"decoding took the peak from {start / MB:.0f} to {peak / MB:.0f} MB"


@pytest.mark.usefixtures("unchanged")
def test_page_ids_beyond_64_bits_are_invalid_not_errors(http: httpx.Client) -> None:
    huge = str(2**70)
    for path in (f"/app/shipments/{huge}", f"/app/alerts/{huge}", f"/app/print-jobs/{huge}", "/app/shipments/0"):
        problem(http.get(path), 422, "validation_failed")
        page = http.get(path, headers=HTML)
        assert page.status_code == 422 and "text/html" in page.headers["content-type"], (path, page.status_code)
    for path in (f"/app/shipments/{huge}/close", f"/app/alerts/{huge}", f"/app/print-jobs/{huge}/void"):
        assert http.post(path, data={"code": "x", "reason": "y"}).status_code == 422, path


@pytest.mark.usefixtures("unchanged")
def test_sign_in_from_another_site_is_refused(server: Server) -> None:
    form = {"key": server.token}
    with server.client(timeout=30) as browser:
        for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/login"},
                        {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site", "Origin": server.base_url}):  # fmt: skip
            refused = browser.post("/login", data=form, headers={**HTML, **headers})
            assert refused.status_code == 403 and "set-cookie" not in refused.headers, headers
            assert "cross-site" in refused.text
        api = browser.post("/login", data=form, headers={"Origin": "https://evil.example"})
        problem(api, 403, "forbidden")
        own = browser.post("/login", data=form, headers={**HTML, "Origin": server.base_url,
                                                          "Sec-Fetch-Site": "same-origin"})  # fmt: skip
        assert own.status_code == 303 and "trc_key=" in own.headers["set-cookie"]
