"""Instance secrets: created once by ``vigie init``, kept out of the database, mode 0600.

- ``instance.key``: 32 random bytes from which per-purpose keys are derived (pseudonyms,
  notice verification codes, encryption of stored leak files) with HKDF.
- ``instance-keys.json`` (once ``instance.key`` was rotated): the retired instance keys,
  each AES-256-GCM wrapped under the current one, with their *epoch* (0 for the first
  key, then 1, 2...). A derived key's version names the epoch it derives from, so what an
  older instance key made still checks; rotating ``instance.key`` re-wraps them all
  under the new key (:func:`vigie.ops.rotation.rotate_instance_key`).
- ``audit-signing.pem``: the Ed25519 private key that signs audit checkpoints;
  ``audit-signing.pub.pem`` is its public half, safe to hand to a regulator.
- ``audit-keys.json`` (once the audit key was rotated): the history of the audit keys
  (:mod:`vigie.audit.keyring`), so checkpoints signed by a retired key still verify.
- ``key-versions.json`` (once a derived key was rotated): for each rotated purpose, its
  versions after the first (number, random salt, time, epoch). Version 1 of a purpose is
  ``HKDF(key of epoch 0, info=purpose)``; version *n* is ``HKDF(key of its epoch, salt,
  info=purpose#vn)``. The newest version is used for anything new; every version is kept,
  so what an older one made (a notice code, a pseudonym in a leaked file) still checks.
- ``generation`` (once anything was rotated): rewritten after each rotation commits;
  processes that follow rotations (``load_secrets(..., reload_seconds=N)``) reload the
  directory when it changes, so ``vigie serve`` and ``vigie worker`` need no restart.

Secrets are wrapped in :class:`Secret`, which prints as ``'**********'`` so a key never
reaches a log or a traceback by accident.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vigie.audit.keyring import FILE as KEY_HISTORY
from vigie.audit.keyring import KeyHistory
from vigie.errors import ConfigError

log = logging.getLogger(__name__)

INSTANCE_KEY = "instance.key"
SIGNING_KEY = "audit-signing.pem"
SIGNING_PUB = "audit-signing.pub.pem"
KEY_VERSIONS = "key-versions.json"
INSTANCE_KEYS = "instance-keys.json"
INSTANCE_KEYS_FORMAT = "vigie-instance-keys/v1"
GENERATION = "generation"
"""Rewritten by every rotation once committed: running processes reload on a new one."""
VERSIONS_FORMAT = "vigie-key-versions/v1"


class Secret:
    """Bytes that never show themselves in ``repr``/``str``."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = value

    def reveal(self) -> bytes:
        """The secret bytes; call only where they are used."""
        return self._value

    def __repr__(self) -> str:
        return "'**********'"

    __str__ = __repr__


@dataclass(frozen=True)
class KeyVersion:
    """One version of a derived key: its number, salt (none for version 1) and start."""

    version: int
    at_us: int = 0
    salt: bytes = b""
    epoch: int = 0
    """The instance key it derives from (0: the first; see ``instance-keys.json``)."""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "version": self.version, "at_us": self.at_us, "salt": self.salt.hex()
        }  # fmt: skip
        if self.epoch:
            out["epoch"] = self.epoch
        return out


FIRST = KeyVersion(1)


@dataclass(frozen=True)
class _Loaded:
    """One consistent set of the instance's secrets (what one load of the directory read)."""

    master: Secret
    signing_key: Ed25519PrivateKey
    versions: Mapping[str, tuple[KeyVersion, ...]]
    history: KeyHistory | None
    epoch: int = 0
    retired: Mapping[int, Secret] = field(default_factory=dict)
    derived: dict[tuple[str, int, int], bytes] = field(default_factory=dict, repr=False)

    def master_of(self, epoch: int) -> Secret:
        if epoch == self.epoch:
            return self.master
        found = self.retired.get(epoch)
        if found is None:
            raise ConfigError(f"no instance key of epoch {epoch} (instance-keys.json)")
        return found


class InstanceSecrets:
    """The secrets of one Vigie instance, loaded from the secrets directory.

    A long-running process (``vigie serve``, ``vigie worker``) loads them with
    ``load_secrets(directory, reload_seconds=N)``: then, at most every N seconds, the
    first use looks at the :data:`GENERATION` file that ``vigie secrets rotate`` rewrites
    after its change is committed (one ``stat``), and on a new generation reloads the
    whole directory and swaps it in at once, so every holder of this object uses the new
    keys from its next call, without a restart. A reload that fails (a file half
    replaced, refused) keeps the keys in use and is tried again next time.
    """

    def __init__(
        self,
        master: Secret,
        signing_key: Ed25519PrivateKey,
        versions: Mapping[str, tuple[KeyVersion, ...]] | None = None,
        history: KeyHistory | None = None,
        *,
        epoch: int = 0,
        retired: Mapping[int, Secret] | None = None,
    ) -> None:
        self._loaded = _Loaded(
            master, signing_key, dict(versions or {}), history, epoch, dict(retired or {})
        )
        self._directory: Path | None = None
        self._every = 0.0
        self._next_look = 0.0
        self._generation: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "InstanceSecrets('**********')"

    def watch(self, directory: Path, *, every_seconds: float) -> InstanceSecrets:
        """Reload from ``directory`` on each new generation, looking every ``every_seconds``."""
        self._directory, self._every = directory, every_seconds
        self._generation = _generation(directory)
        self._next_look = time.monotonic() + every_seconds
        return self

    def _now(self) -> _Loaded:
        if self._directory is not None and time.monotonic() >= self._next_look:
            self.reload_if_rotated()
        return self._loaded

    def reload_if_rotated(self) -> bool:
        """Reload now if a rotation published a new generation; whether it did."""
        directory = self._directory
        if directory is None:
            return False
        with self._lock:
            self._next_look = time.monotonic() + self._every
            seen = _generation(directory)
            if seen == self._generation:
                return False
            try:
                fresh = load_secrets(directory)
            except (ConfigError, OSError, ValueError) as exc:
                log.warning("secrets reload failed, keeping the keys in use: %s", exc)
                return False
            self._loaded, self._generation = fresh._loaded, seen
        log.info("secrets reloaded after a rotation")
        return True

    @property
    def master(self) -> Secret:
        """The current instance key (what new derived versions come from)."""
        return self._now().master

    @property
    def epoch(self) -> int:
        """The current instance key's epoch (0 until ``instance.key`` is first rotated)."""
        return self._now().epoch

    @property
    def retired(self) -> Mapping[int, Secret]:
        """The retired instance keys, by epoch (unwrapped from ``instance-keys.json``)."""
        return self._now().retired

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The audit checkpoint key in use now."""
        return self._now().signing_key

    @property
    def versions(self) -> Mapping[str, tuple[KeyVersion, ...]]:
        """Rotated purposes: their versions after the first, oldest first."""
        return self._now().versions

    @property
    def history(self) -> KeyHistory | None:
        """The audit key history, when the audit key was ever rotated."""
        return self._now().history

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """The current key for one purpose (e.g. ``"pseudonym:7"``), from the master key."""
        loaded = self._now()
        return _derive(loaded, purpose, _current(loaded, purpose), length)

    def current(self, purpose: str) -> KeyVersion:
        """The version of ``purpose``'s key in use for anything new."""
        return _current(self._now(), purpose)

    def all_versions(self, purpose: str) -> list[KeyVersion]:
        """Every version of ``purpose``'s key, newest first."""
        return [*reversed(self._now().versions.get(purpose, ())), FIRST]

    def derive_version(self, purpose: str, version: KeyVersion, length: int = 32) -> bytes:
        """The key of one version of ``purpose`` (see the module's docstring).

        Derived once per version and kept with the secrets (request paths derive the same
        few keys on every request: an HKDF each time was a measurable share of them)."""
        return _derive(self._now(), purpose, version, length)

    @property
    def audit_keys(self) -> KeyHistory:
        """Every audit key with its period: what verification checks checkpoints against."""
        loaded = self._now()
        return loaded.history or KeyHistory.single(loaded.signing_key.public_key())

    @property
    def verify_key(self) -> Ed25519PublicKey:
        """The public half of the audit signing key."""
        return self.signing_key.public_key()


def _current(loaded: _Loaded, purpose: str) -> KeyVersion:
    rotated = loaded.versions.get(purpose, ())
    return rotated[-1] if rotated else FIRST


def _derive(loaded: _Loaded, purpose: str, version: KeyVersion, length: int) -> bytes:
    cached = (purpose, version.version, length)
    found = loaded.derived.get(cached)
    if found is None:
        if version.version == 1:
            salt, info = None, purpose
        else:
            salt, info = version.salt, f"{purpose}#v{version.version}"
        found = loaded.derived[cached] = HKDF(
            algorithm=hashes.SHA256(), length=length, salt=salt, info=info.encode()
        ).derive(loaded.master_of(version.epoch).reveal())
    return found


def _generation(directory: Path) -> tuple[int, int] | None:
    """What identifies the last published rotation (None: never rotated)."""
    try:
        st = (directory / GENERATION).stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_ino


def publish_generation(directory: Path) -> None:
    """Tell running processes that the secrets changed (after the change is committed)."""
    replace_file(directory / GENERATION, f"{time.time_ns()}\n".encode())


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def ensure_secrets(directory: Path) -> list[str]:
    """Create any missing secret in ``directory`` (0700, files 0600); return what was created.

    Existing secrets are never overwritten: losing the instance key would make every
    pseudonym handed out so far unreadable.
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    created: list[str] = []
    if not (directory / INSTANCE_KEY).exists():
        _write_private(directory / INSTANCE_KEY, secrets.token_bytes(32))
        created.append(INSTANCE_KEY)
    if not (directory / SIGNING_KEY).exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(directory / SIGNING_KEY, pem)
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (directory / SIGNING_PUB).write_bytes(pub)
        created.append(SIGNING_KEY)
    return created


def load_secrets(directory: Path, *, reload_seconds: float = 0.0) -> InstanceSecrets:
    """Load the instance secrets; refuse missing or world-readable files.

    ``reload_seconds`` > 0: follow rotations without a restart (see :class:`InstanceSecrets`).
    """
    paths = [directory / INSTANCE_KEY, directory / SIGNING_KEY]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"missing instance secret {path}; run `vigie init`")
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise ConfigError(f"instance secret {path} is readable by others; chmod 600 it")
    master = (directory / INSTANCE_KEY).read_bytes()
    if len(master) != 32:
        raise ConfigError(f"instance secret {paths[0]} is not 32 bytes")
    key = serialization.load_pem_private_key((directory / SIGNING_KEY).read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{paths[1]} is not an Ed25519 key")
    history = None
    if (directory / KEY_HISTORY).exists():
        history = KeyHistory.load(directory, key.public_key())
    epoch, retired = read_retired(directory, master)
    loaded = InstanceSecrets(
        master=Secret(master),
        signing_key=key,
        versions=read_versions(directory),
        history=history,
        epoch=epoch,
        retired=retired,
    )
    return loaded.watch(directory, every_seconds=reload_seconds) if reload_seconds > 0 else loaded


def read_versions(directory: Path) -> dict[str, tuple[KeyVersion, ...]]:
    """The rotated purposes recorded in ``directory`` (none if never rotated)."""
    path = directory / KEY_VERSIONS
    if not path.exists():
        return {}
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(f"instance secret {path} is readable by others; chmod 600 it")
    try:
        data = orjson.loads(path.read_bytes())
        if data["format"] != VERSIONS_FORMAT:
            raise ValueError(f"unknown format {data['format']!r}")
        out = {
            purpose: tuple(
                KeyVersion(
                    int(v["version"]),
                    int(v["at_us"]),
                    bytes.fromhex(v["salt"]),
                    int(v.get("epoch", 0)),
                )
                for v in versions
            )
            for purpose, versions in data["purposes"].items()
        }
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} is not a key-versions file: {exc}") from None
    for purpose, versions in out.items():
        if [v.version for v in versions] != list(range(2, len(versions) + 2)):
            raise ConfigError(f"{path}: the versions of {purpose!r} are not 2, 3, ...")
    return out


def add_versions(
    directory: Path, purposes: list[str], *, at_us: int, epoch: int | None = None
) -> dict[str, KeyVersion]:
    """Start a new version of each purpose's key now, from the instance key of ``epoch``
    (default: the current one); return them.

    The file is replaced atomically (written beside it, then renamed), so a crash leaves
    either the old versions or the new ones, never half a file.
    """
    versions = {p: list(v) for p, v in read_versions(directory).items()}
    if epoch is None:
        epoch = _current_epoch(directory)
    added: dict[str, KeyVersion] = {}
    for purpose in purposes:
        kept = versions.setdefault(purpose, [])
        number = kept[-1].version + 1 if kept else 2
        added[purpose] = KeyVersion(number, at_us, secrets.token_bytes(32), epoch)
        kept.append(added[purpose])
    write_versions(directory, versions)
    return added


def write_versions(directory: Path, versions: Mapping[str, list[KeyVersion]]) -> None:
    """Replace ``key-versions.json`` (mode 0600) with ``versions``."""
    document = {
        "format": VERSIONS_FORMAT,
        "purposes": {p: [v.to_json() for v in vs] for p, vs in sorted(versions.items()) if vs},
    }
    replace_file(directory / KEY_VERSIONS, orjson.dumps(document, option=orjson.OPT_INDENT_2))


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically (a new file renamed over it), with ``mode``."""
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# -- retired instance keys (instance-keys.json) --------------------------------------------


def _wrapping(master: bytes) -> AESGCM:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"vigie instance-key wrap"
    ).derive(master)
    return AESGCM(key)


def _aad(epoch: int) -> bytes:
    return f"{INSTANCE_KEYS_FORMAT}/epoch {epoch}".encode()


def wrap_retired(master: bytes, retired: Mapping[int, Secret], *, epoch: int) -> bytes:
    """``instance-keys.json`` for a current key ``master`` of ``epoch``: every retired key
    wrapped under it (AES-256-GCM, its epoch bound as associated data)."""
    wrapping = _wrapping(master)
    entries = []
    for number, key in sorted(retired.items()):
        nonce = os.urandom(12)
        wrapped = wrapping.encrypt(nonce, key.reveal(), _aad(number))
        entries.append({"epoch": number, "nonce": nonce.hex(), "wrapped": wrapped.hex()})
    document = {"format": INSTANCE_KEYS_FORMAT, "epoch": epoch, "retired": entries}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def read_retired(directory: Path, master: bytes) -> tuple[int, dict[int, Secret]]:
    """The current epoch and the retired instance keys, unwrapped with ``master``."""
    path = directory / INSTANCE_KEYS
    if not path.exists():
        return 0, {}
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise ConfigError(f"instance secret {path} is readable by others; chmod 600 it")
    wrapping = _wrapping(master)
    try:
        data = orjson.loads(path.read_bytes())
        if data["format"] != INSTANCE_KEYS_FORMAT:
            raise ValueError(f"unknown format {data['format']!r}")
        epoch = int(data["epoch"])
        retired = {
            int(e["epoch"]): Secret(
                wrapping.decrypt(
                    bytes.fromhex(e["nonce"]), bytes.fromhex(e["wrapped"]), _aad(int(e["epoch"]))
                )
            )
            for e in data["retired"]
        }
    except InvalidTag:
        raise ConfigError(
            f"{path} does not unwrap with {INSTANCE_KEY}: the two files are not of the same "
            "rotation (restore them together)"
        ) from None
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} is not an instance-keys file: {exc}") from None
    if sorted(retired) != list(range(epoch)):
        raise ConfigError(f"{path}: the retired epochs are not 0..{epoch - 1}")
    return epoch, retired


def _current_epoch(directory: Path) -> int:
    path = directory / INSTANCE_KEYS
    if not path.exists():
        return 0
    try:
        return int(orjson.loads(path.read_bytes())["epoch"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path} is not an instance-keys file: {exc}") from None
