"""Ed25519 keys: loading, saving and key ids.

A key id is the lowercase hex SHA-256 of the 32-byte raw public key, so the
same key always has the same id wherever it is listed. Private keys live in
PKCS8 PEM files that only their owner may read.

Key files are read and written with ``cryptography``; signing and verifying,
which every request does several times, go through libsodium (PyNaCl), which
is about twice as fast as OpenSSL's Ed25519 here (see scripts/bench_query).
Large messages are signed by OpenSSL instead: Ed25519 hashes the message twice
with SHA-512, which OpenSSL does faster (a 548 KB screening question: 2.5 ms
against libsodium's 4.6; the same signature, Ed25519 being deterministic).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from fedtrade.trust.errors import BadSignatureError, KeyFileError
from fedtrade.trust.files import (
    MAX_KEY_BYTES,
    FileShapeError,
    open_regular,
    read_capped,
    read_descriptor,
)

__all__ = [
    "PublicKey",
    "SigningKey",
    "generate_keypair",
    "key_id_for",
    "load_public_key",
    "read_secret_file",
    "write_secret_file",
]

_RAW_PUBLIC_KEY_SIZE = 32
# bytes from which OpenSSL signs faster than libsodium (measured crossing: 8 to 16 KiB)
_OPENSSL_SIGNS_FROM = 16 * 1024
_GENERATE_HINT = "create a key pair with `fedtrade keygen --out DIR --name NAME`"


def key_id_for(raw_public: bytes) -> str:
    """Return the key id of a raw 32-byte Ed25519 public key."""
    return hashlib.sha256(raw_public).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key and its key id."""

    key_id: str
    raw: bytes = field(repr=False)
    _key: nacl.signing.VerifyKey = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.raw) != _RAW_PUBLIC_KEY_SIZE:
            raise ValueError(
                f"an Ed25519 public key is {_RAW_PUBLIC_KEY_SIZE} bytes, got {len(self.raw)}"
            )
        if self.key_id != key_id_for(self.raw):
            raise ValueError(f"key id {self.key_id!r} is not the SHA-256 of the public key")
        object.__setattr__(self, "_key", nacl.signing.VerifyKey(self.raw))

    @classmethod
    def from_raw(cls, raw: bytes) -> PublicKey:
        return cls(key_id=key_id_for(raw), raw=raw)

    @classmethod
    def from_pem(cls, data: bytes, *, source: str = "<memory>") -> PublicKey:
        try:
            key = load_pem_public_key(data)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFileError(
                f"{source}: not a PEM public key ({exc}); "
                "expected a '-----BEGIN PUBLIC KEY-----' file as written by `fedtrade keygen`"
            ) from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFileError(
                f"{source}: public key is {type(key).__name__}, but fedtrade uses Ed25519 only; "
                f"{_GENERATE_HINT}"
            )
        return cls.from_raw(key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    @classmethod
    def from_file(cls, path: Path) -> PublicKey:
        try:
            data = read_capped(path, MAX_KEY_BYTES)
        except FileNotFoundError:
            raise KeyFileError(
                f"{path}: public key file not found; check the path or copy the peer's .pub file"
            ) from None
        except OSError as exc:
            raise KeyFileError(f"{path}: cannot read public key file: {exc.strerror}") from None
        except FileShapeError as exc:
            raise KeyFileError(f"{path}: public key file {exc}") from None
        return cls.from_pem(data, source=str(path))

    def to_pem(self) -> bytes:
        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise ``BadSignatureError`` unless ``signature`` is this key's signature of ``data``."""
        try:
            self._key.verify(data, signature)
        except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
            raise BadSignatureError(
                f"signature does not verify with key {self.key_id}: the signed data was "
                "altered or the signature was made with another key"
            ) from None


class SigningKey:
    """An Ed25519 private key. Its repr shows only the key id."""

    __slots__ = ("_private", "_public", "_signer")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self._signer = nacl.signing.SigningKey(
            private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        )
        self._public = PublicKey.from_raw(
            private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        )

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"

    @property
    def key_id(self) -> str:
        return self._public.key_id

    @property
    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        if len(data) >= _OPENSSL_SIGNS_FROM:
            return self._private.sign(data)
        return self._signer.sign(data).signature

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_file(cls, path: Path) -> SigningKey:
        """Load an unencrypted PKCS8 PEM private key that only its owner can read."""
        data = read_secret_file(path, "private key", hint=_GENERATE_HINT)
        try:
            key = load_pem_private_key(data, password=None)
        except TypeError:
            raise KeyFileError(
                f"{path}: private key is encrypted; fedtrade reads unencrypted PKCS8 keys "
                "protected by file permissions: decrypt it with "
                f"`openssl pkey -in {path} -out <new file>` or {_GENERATE_HINT}"
            ) from None
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFileError(
                f"{path}: not a PEM private key ({exc}); expected a "
                f"'-----BEGIN PRIVATE KEY-----' file: {_GENERATE_HINT}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(
                f"{path}: private key is {type(key).__name__}, but fedtrade uses Ed25519 only; "
                f"{_GENERATE_HINT}"
            )
        return cls(key)

    def save(self, path: Path) -> None:
        """Write the key as PKCS8 PEM to a new file with mode 0600; never overwrite."""
        pem = self._private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        _write_new_file(path, pem, 0o600, what="private key")


# what a file others may read usually holds when a config names it for a secret by mistake
_PUBLIC_PEM = ((b"-----BEGIN PUBLIC KEY-----", "public key"),
               (b"-----BEGIN CERTIFICATE-----", "certificate"))


def read_secret_file(path: Path, what: str, *, hint: str) -> bytes:
    """Read a file holding a secret, refusing one that group or others may read."""
    try:
        fd, info = open_regular(path)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: {what} file not found; check the path or {hint}") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot open {what} file: {exc.strerror}") from None
    except FileShapeError as exc:
        raise KeyFileError(f"{path}: {what} file {exc}") from None
    try:
        mode = stat.S_IMODE(info.st_mode)
        data = read_descriptor(fd, MAX_KEY_BYTES)
        if mode & 0o077:
            public = next((name for marker, name in _PUBLIC_PEM if marker in data), None)
            if public is not None:  # chmod would not help: the config names the wrong file
                raise KeyFileError(f"{path} holds a {public}, not a {what}; give the {what} "
                                   f"file (or {hint})")
            raise KeyFileError(
                f"{path} is readable by group/others (mode {mode:04o}); a {what} must "
                f"be private: run `chmod 600 {path}`"
            )
        return data
    except FileShapeError as exc:
        raise KeyFileError(f"{path}: {what} file {exc}") from None
    finally:
        os.close(fd)


def write_secret_file(path: Path, data: bytes, what: str) -> None:
    """Create ``path`` with mode 0600 holding ``data``; never overwrite."""
    _write_new_file(path, data, 0o600, what=what)


def _write_new_file(path: Path, data: bytes, mode: int, *, what: str) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        raise KeyFileError(
            f"{path}: {what} file already exists; refusing to overwrite it: "
            "move it away first or choose another name"
        ) from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create {what} file: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def generate_keypair(out_dir: Path, name: str) -> tuple[Path, Path]:
    """Write a new key pair as ``<name>.key`` (mode 0600) and ``<name>.pub`` in ``out_dir``."""
    if not name or name in {".", ".."} or "/" in name or os.sep in name:
        raise KeyFileError(
            f"invalid key name {name!r}: use a plain file name such as 'node-marketplace'"
        )
    key_path = out_dir / f"{name}.key"
    pub_path = out_dir / f"{name}.pub"
    for existing in (key_path, pub_path):
        if existing.exists():
            raise KeyFileError(
                f"{existing}: key file already exists; refusing to overwrite it: "
                "move it away first or choose another name"
            )
    try:
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"{out_dir}: cannot create key directory: {exc.strerror}") from None
    key = SigningKey.generate()
    key.save(key_path)
    try:
        _write_new_file(pub_path, key.public_key.to_pem(), 0o644, what="public key")
    except BaseException:
        key_path.unlink(missing_ok=True)
        raise
    return key_path, pub_path


def load_public_key(path: Path) -> PublicKey:
    """Load an Ed25519 public key from a SubjectPublicKeyInfo PEM file."""
    return PublicKey.from_file(path)
