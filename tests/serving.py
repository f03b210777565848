"""A real server process, for the tests and benchmarks that start one: wait until it answers, stop it for good.

Each caller reports a failure its own way (a test fails, a benchmark exits, a fixture raises), so these say what
happened and leave the reporting to them.
"""

from __future__ import annotations

import subprocess
import time

import httpx

__all__ = ["stop", "wait_until_healthy"]


def wait_until_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float, pause: float = 0.2) -> str | None:
    """None once ``{base}/healthz`` answers 200; else why not: ``"exited <code>"`` or ``"timeout"``."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            return f"exited {proc.returncode}"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return "timeout"
        time.sleep(pause)


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Ask the server to stop (its workers with it), and kill it if it has not within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
