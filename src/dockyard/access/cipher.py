"""The encryption of project secrets: AES-256-GCM under a key the server is given.

The key is 32 random bytes, base64 in ``DOCKYARD_SECRETS_KEY`` or in the file
``DOCKYARD_SECRETS_KEY_FILE`` (raw 32 bytes are taken too). An embedded session over a local
SQLite home that is given neither creates ``$DOCKYARD_HOME/secrets.key`` (mode 0600) the
first time it stores a secret; a server, or a session on a shared (PostgreSQL) database,
never makes up a key: a secret set under a key nobody else has could not be read by anyone
else.

Each value is sealed with a fresh 96-bit nonce and associated data naming its project id and
its name, so a row copied to another project or name fails to open. Each row keeps the
fingerprint of its key (:func:`key_id_of`), so a wrong key is named as such, never
decrypted into garbage.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dockyard.core.errors import Conflict, InvalidInput

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE = "secrets.key"
"""The key an embedded session creates in its home."""
_START_SERVER = (
    "start the server (or this process) with DOCKYARD_SECRETS_KEY_FILE=/path/to/key (32 "
    "random bytes, base64: `openssl rand -base64 32 > key; chmod 600 key`) or "
    "DOCKYARD_SECRETS_KEY"
)


class NoSecretsKey(Conflict):
    """This process was given no key to encrypt or decrypt secrets with."""

    code = "secrets_key_missing"


class SecretUnreadable(Conflict):
    """A stored secret cannot be decrypted here: another key sealed it, or the row was
    altered or copied."""

    code = "secret_unreadable"


def key_id_of(key: bytes) -> str:
    """A short fingerprint of ``key`` (16 hex digits) that tells keys apart and reveals
    nothing of them."""
    return hashlib.sha256(b"dockyard secrets key\x00" + key).hexdigest()[:16]


def parse_key(raw: str | bytes, where: str) -> bytes:
    """The 32-byte key in ``raw`` (base64, or the raw bytes themselves); ``where`` names
    where it came from in the error (never the key)."""
    data = raw.encode() if isinstance(raw, str) else raw
    text = data.strip()
    with contextlib.suppress(binascii.Error, ValueError):
        decoded = base64.b64decode(text.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
        if len(decoded) == KEY_BYTES:
            return decoded
    if len(data) == KEY_BYTES:
        return data
    raise InvalidInput(
        f"the secrets key in {where} is not 32 bytes in base64 (make one with "
        "`openssl rand -base64 32`)"
    )


def _aad(project_id: str, name: str) -> bytes:
    return b"dockyard.secret\x00" + project_id.encode() + b"\x00" + name.encode()


@dataclass(frozen=True)
class SecretKey:
    """One AES-256-GCM key and its fingerprint."""

    key: bytes = field(repr=False)
    key_id: str

    @classmethod
    def of(cls, key: bytes) -> SecretKey:
        return cls(key, key_id_of(key))

    def seal(self, value: str, project_id: str, name: str) -> tuple[bytes, bytes]:
        """(nonce, ciphertext) of ``value``, bound to its project id and name."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, value.encode(), _aad(project_id, name))
        return nonce, sealed

    def open(self, nonce: bytes, sealed: bytes, key_id: str, project_id: str, name: str) -> str:
        """The value sealed in a row; :class:`SecretUnreadable` naming the secret when
        another key sealed it or the row does not belong to ``project_id`` and ``name``."""
        if key_id != self.key_id:
            raise SecretUnreadable(
                f"secret {name} was encrypted with another key (key id {key_id}); this process "
                f"has key id {self.key_id}: give it the key the secret was set with, or set "
                "the secret again",
                details={"secret": name, "key_id": key_id, "have": self.key_id},
            )
        try:
            return AESGCM(self.key).decrypt(nonce, sealed, _aad(project_id, name)).decode()
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise SecretUnreadable(
                f"secret {name} does not decrypt with its key: the stored row was altered or "
                "copied from another project or name; set the secret again",
                details={"secret": name},
            ) from None


class KeySource:
    """Where this process's secrets key comes from (see the module's doc): given (``key``,
    ``key_file``), or, with ``home_file``, a key file an embedded session creates."""

    def __init__(
        self,
        *,
        key: str | None = None,
        key_file: str | None = None,
        home_file: Path | None = None,
    ) -> None:
        self._key = key
        self._key_file = key_file
        self._home_file = home_file
        self._found: SecretKey | None = None
        self._lock = threading.Lock()

    def get(self, *, create: bool = False) -> SecretKey | None:
        """The key, or None when there is none (and ``create`` does not allow making the
        embedded one)."""
        with self._lock:
            if self._found is None:
                self._found = self._load(create)
            return self._found

    def require(self, *, create: bool = False, why: str = "") -> SecretKey:
        """The key, or :class:`NoSecretsKey` saying how to give one."""
        found = self.get(create=create)
        if found is None:
            raise NoSecretsKey(f"{why or 'secrets need a key'}, and this process has none: "
                               f"{_START_SERVER}")  # fmt: skip
        return found

    def _load(self, create: bool) -> SecretKey | None:
        if self._key:
            return SecretKey.of(parse_key(self._key, "DOCKYARD_SECRETS_KEY"))
        if self._key_file:
            path = Path(self._key_file).expanduser()
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidInput(
                    f"cannot read the secrets key file {path} (DOCKYARD_SECRETS_KEY_FILE): "
                    f"{exc.strerror or exc}"
                ) from None
            return SecretKey.of(parse_key(data, f"the file {path}"))
        home = self._home_file
        if home is None:
            return None
        if home.is_file():
            return SecretKey.of(parse_key(home.read_bytes(), f"the file {home}"))
        if not create:
            return None
        return SecretKey.of(_create_key_file(home))


def _create_key_file(path: Path) -> bytes:
    """A new random key written to ``path`` with mode 0600, or the key another process
    wrote there first (the file appears whole, by a hard link, or not at all)."""
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".secrets-key-")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, base64.b64encode(key) + b"\n")
        os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(temp, path)
        except FileExistsError:
            return parse_key(path.read_bytes(), f"the file {path}")
        return key
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            Path(temp).unlink()
