"""Private key material on disk: Ed25519 signing keys and compact-mode HMAC secrets, one file per key id.

Private keys never enter the database or the logs (DESIGN, "Identifiers and codes"): they live only in files
created here, mode 0600, never overwritten, the Ed25519 ones encrypted with a passphrase when one is given.
Errors name the file and never its content; nothing here has a ``repr`` that shows key material.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from codes.errors import KeyFileError, MalformedCode
from codes.identity import check_key_id

__all__ = [
    "HMAC_SECRET_BYTES",
    "KeyFileStore",
    "public_key_from_pem",
    "public_key_from_raw",
    "public_key_raw",
    "public_key_to_pem",
    "write_private",
]

HMAC_SECRET_BYTES = 32


def public_key_raw(pub: Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of an Ed25519 public key (what the keyring and the database store)."""
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from its 32 raw bytes; ValueError if it is not one."""
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key has 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_to_pem(pub: Ed25519PublicKey) -> bytes:
    """Return the SubjectPublicKeyInfo PEM of a public key (what scanners and partners are given)."""
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_from_pem(pem: bytes | str) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM; ValueError if the PEM holds anything else."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"expected an Ed25519 public key, got {type(key).__name__}")
    return key


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner may read or write (0600), replacing an earlier one, whose mode is tightened too.

    For secrets that are not key files but must not be world-readable either (the demo's API keys).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, 0o600)  # O_CREAT leaves an existing file's mode as it was (0644 from an earlier version)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class KeyFileStore:
    """A directory of private key files: ``<key_id>.pem`` (Ed25519, PKCS8) and ``<key_id>.hmac`` (32 bytes)."""

    __slots__ = ("_passphrase", "directory")

    def __init__(self, directory: Path, passphrase: bytes | None = None) -> None:
        if passphrase is not None and not passphrase:
            raise KeyFileError("the key passphrase must not be empty (pass None for unencrypted key files)")
        self.directory = Path(directory)
        self._passphrase = passphrase

    def __repr__(self) -> str:
        encrypted = "encrypted" if self._passphrase is not None else "unencrypted"
        return f"KeyFileStore({str(self.directory)!r}, {encrypted})"

    def pem_path(self, key_id: str) -> Path:
        """Return where the Ed25519 private key of ``key_id`` lives."""
        return self.directory / f"{self._key_id(key_id)}.pem"

    def hmac_path(self, key_id: str) -> Path:
        """Return where the HMAC secret of ``key_id`` lives."""
        return self.directory / f"{self._key_id(key_id)}.hmac"

    def create_ed25519(self, key_id: str) -> Ed25519PublicKey:
        """Generate a key pair, write the private key to ``<key_id>.pem`` and return the public key."""
        private = Ed25519PrivateKey.generate()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase is not None
            else serialization.NoEncryption()
        )
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        self._write_new(self.pem_path(key_id), pem)
        return private.public_key()

    def load_private(self, key_id: str) -> Ed25519PrivateKey:
        """Load the Ed25519 private key of ``key_id``; KeyFileError naming the file if that fails."""
        path = self.pem_path(key_id)
        data = self._read(path)
        try:
            key = serialization.load_pem_private_key(data, password=self._passphrase)
        except TypeError as exc:
            # cryptography says TypeError when a passphrase is missing or given for an unencrypted file.
            if self._passphrase is None:
                raise KeyFileError(f"key file {path} is encrypted: a passphrase is needed", path=str(path)) from None
            raise KeyFileError(f"key file {path} is not encrypted but a passphrase was given", path=str(path)) from exc
        except ValueError:
            raise KeyFileError(
                f"cannot load key file {path}: wrong passphrase or not a PEM private key", path=str(path)
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"key file {path} does not hold an Ed25519 key", path=str(path))
        return key

    def load_public(self, key_id: str) -> Ed25519PublicKey:
        """Return the public half of the key of ``key_id`` (loads the private key file)."""
        return self.load_private(key_id).public_key()

    def create_hmac_secret(self, key_id: str) -> None:
        """Write 32 random bytes to ``<key_id>.hmac`` for compact-mode tags; never overwrites."""
        self._write_new(self.hmac_path(key_id), secrets.token_bytes(HMAC_SECRET_BYTES))

    def load_hmac_secret(self, key_id: str) -> bytes:
        """Return the HMAC secret of ``key_id``; KeyFileError naming the file if missing or malformed."""
        path = self.hmac_path(key_id)
        data = self._read(path)
        if len(data) != HMAC_SECRET_BYTES:
            raise KeyFileError(
                f"HMAC secret file {path} must hold {HMAC_SECRET_BYTES} bytes, it holds {len(data)}", path=str(path)
            )
        return data

    def key_ids(self) -> list[str]:
        """Return the key ids that have an Ed25519 key file here, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.pem"))

    @staticmethod
    def _key_id(key_id: str) -> str:
        # The key id syntax has no '/', no leading '.', so it cannot escape the directory.
        try:
            return check_key_id(key_id)
        except MalformedCode as exc:
            raise KeyFileError(exc.message, key_id=repr(key_id)) from None

    def _write_new(self, path: Path, data: bytes) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyFileError(f"key file {path} exists already; refusing to overwrite it", path=str(path)) from None
        except OSError as exc:
            raise KeyFileError(f"cannot create key file {path}: {exc.strerror}", path=str(path)) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise KeyFileError(f"cannot write key file {path}: {exc.strerror}", path=str(path)) from None

    @staticmethod
    def _read(path: Path) -> bytes:
        try:
            mode = path.stat().st_mode
            if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyFileError(
                    f"key file {path} is accessible by other users (mode {stat.S_IMODE(mode):04o}); "
                    "run chmod 600 on it",
                    path=str(path),
                )
            return path.read_bytes()
        except FileNotFoundError:
            raise KeyFileError(f"key file {path} not found", path=str(path)) from None
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {path}: {exc.strerror}", path=str(path)) from None
