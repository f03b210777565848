"""Browser tests: a real uvicorn server on 127.0.0.1 (a free port, a temporary SQLite file) and Debian's chromium
driven by Playwright through its executable path (Playwright's own browser download is never used).

Set ``TRACEABILITY_SCREENSHOTS=docs/screenshots`` to write each page's screenshot there (how the committed ones were
made); ``TRACEABILITY_CHROMIUM`` names another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
import zxingcpp

from codes.service import key_store
from tests.factories import masterdata_doc
from tests.web.helpers import at_distributor, make_codes, scan
from traceability.app import create_app
from traceability.auth.service import create_api_key
from traceability.database import make_engine, migrate, session_scope
from traceability.masterdata.service import import_masterdata
from traceability.models import Role
from traceability.settings import Settings

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str | None:
    wanted = os.environ.get("TRACEABILITY_CHROMIUM")
    if wanted:
        return wanted
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Live:
    """The running server and what was seeded into it."""

    base_url: str
    tokens: dict[Role, str]
    codes: list[str]
    """Signed unit codes held by D-GZ (commissioned, shipped to it, received); tests take their own."""
    camera_code: str
    fresh: list[str] = field(default_factory=list)
    """Codes issued but never commissioned (for the plant and consumer pages)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def take(self, n: int = 1) -> list[str]:
        taken, self.codes[:] = self.codes[:n], self.codes[n:]
        return taken


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fake_camera(path: Path, text: str) -> None:
    """A Y4M video whose frames show one QR code, for Chromium's fake camera (``--use-file-for-fake-video-capture``)."""
    qr = np.asarray(zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode).to_image(scale=5))
    width, height = 640, 480
    frame = np.full((height, width), 255, dtype=np.uint8)
    y, x = (height - qr.shape[0]) // 2, (width - qr.shape[1]) // 2
    frame[y : y + qr.shape[0], x : x + qr.shape[1]] = qr
    chroma = np.full((height // 2) * (width // 2), 128, dtype=np.uint8).tobytes()
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(5):
            f.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("live")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # Every browser test signs in from 127.0.0.1: the production 20 sign-ins a minute would refuse a whole run's.
    settings = Settings(db=f"sqlite:///{root / 'web.db'}", key_dir=root / "keys", resolver=base,
                        login_rate_limit="1000/minute")  # fmt: skip
    engine = make_engine(settings.db)
    migrate(engine)
    with session_scope(engine) as session:
        import_masterdata(session=session, raw=masterdata_doc())
        session.flush()
        tokens = {role: create_api_key(session=session, role=role, party_id=party).token
                  for role, party in {Role.distributor: "D-GZ", Role.auditor: "AUD", Role.finance: "BRAND",
                                      Role.plant: "PLANT-1", Role.admin: "BRAND", Role.store: "S-GZ-1"}.items()}
        codes = make_codes(session, key_store(settings), 24, resolver=base)
        at_distributor(session, codes[:20])
        # One sale through the channel (for settlement) and one leak: 广州 ships to a Nanjing store, which sells it.
        scan(session, "shipping", "D-GZ", codes[17:19], destination="S-GZ-1")
        scan(session, "retail_selling", "S-GZ-1", codes[17:18])
        scan(session, "shipping", "D-GZ", codes[19:20], destination="S-NJ-1")
        scan(session, "retail_selling", "S-NJ-1", codes[19:20])
    live = Live(base_url=base, tokens=tokens, codes=codes[1:17], camera_code=codes[0], fresh=codes[20:])
    app = create_app(settings, engine=engine, run_migrations=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    live.extra["root"] = root
    live.extra["engine"] = engine
    live.extra["settings"] = settings
    yield live
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="session")
def browser(live: Live) -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (./scripts/bootstrap.sh installs it)")
    from playwright.sync_api import sync_playwright

    video = Path(live.extra["root"]) / "camera.y4m"
    _fake_camera(video, live.camera_code)
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]  # fmt: skip
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=args)
        yield chromium
        chromium.close()


WORK_PAGE: dict[Role, str] = {
    Role.distributor: "/app/shipments", Role.plant: "/app/print-jobs", Role.admin: "/app/shipments",
    Role.auditor: "/app/alerts", Role.finance: "/app/settlement", Role.store: "/app/pos",
}  # fmt: skip
"""Where ``page_for`` signs a role in to: the page its tests start on (every role's home is its overview)."""


@pytest.fixture
def page_for(browser: Any, live: Live) -> Iterator[Any]:
    """``page_for(role=None, lang="en", start=..., **options)``: a fresh browser context, signed in when a role is
    given, on ``start`` (the role's :data:`WORK_PAGE` unless named; ``""``: where sign-in lands, the overview)."""
    contexts: list[Any] = []

    def make(role: Role | None = None, lang: str = "en", start: str | None = None, **options: Any) -> Any:
        context = browser.new_context(locale=lang, viewport={"width": 1280, "height": 860}, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if role is not None:
            target = WORK_PAGE[role] if start is None else start
            page.goto(f"{live.base_url}/login" + (f"?next={target}" if target else ""))
            page.fill("#key", live.tokens[role])
            page.click("button[type=submit]")
            page.wait_for_load_state()
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Save a full-page screenshot when TRACEABILITY_SCREENSHOTS names a folder."""
    folder = os.environ.get("TRACEABILITY_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
