"""Secrets written to disk are readable by their owner only: the demo's API keys (``demo-keys.txt`` is written
with :func:`codes.keyfiles.write_private`), like the signing key files."""

from __future__ import annotations

import stat
from pathlib import Path

from codes.keyfiles import KeyFileStore, write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_private_file_is_0600_and_an_earlier_readable_one_is_tightened(tmp_path: Path) -> None:
    fresh = tmp_path / "demo-keys.txt"
    write_private(fresh, b"admin\tBRAND\ttrc_x_y\n")
    assert _mode(fresh) == 0o600 and fresh.read_bytes() == b"admin\tBRAND\ttrc_x_y\n"
    fresh.chmod(0o644)  # as an earlier version left it
    write_private(fresh, b"new")
    assert _mode(fresh) == 0o600 and fresh.read_bytes() == b"new"


def test_signing_key_files_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    store = KeyFileStore(tmp_path / "keys")
    store.create_ed25519("K1")
    store.create_hmac_secret("K1")
    assert _mode(store.pem_path("K1")) == 0o600 and _mode(store.hmac_path("K1")) == 0o600
    assert _mode(tmp_path / "keys") == 0o700
