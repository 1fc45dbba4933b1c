from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from fedtrade.trust.errors import BadSignatureError, KeyFileError
from fedtrade.trust.files import MAX_KEY_BYTES
from fedtrade.trust.keys import PublicKey, SigningKey, generate_keypair, key_id_for, load_public_key
from fedtrade.trust.linkage import load_linkage_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_id_is_sha256_of_raw_public_key() -> None:
    key = SigningKey.generate()
    assert key.key_id == hashlib.sha256(key.public_key.raw).hexdigest()
    assert key.key_id == key_id_for(key.public_key.raw)
    assert len(key.key_id) == 64
    assert key.key_id == key.key_id.lower()


def test_sign_and_verify() -> None:
    key = SigningKey.generate()
    signature = key.sign(b"data")
    key.public_key.verify(signature, b"data")
    with pytest.raises(BadSignatureError, match=key.key_id):
        key.public_key.verify(signature, b"date")
    with pytest.raises(BadSignatureError):
        SigningKey.generate().public_key.verify(signature, b"data")
    with pytest.raises(BadSignatureError):
        key.public_key.verify(signature[:-1], b"data")


@pytest.mark.parametrize("size", [0, 16 * 1024 - 1, 16 * 1024, 548_367])
def test_every_size_is_signed_as_rfc_8032_signs_it(size: int) -> None:
    """Small messages are signed by libsodium, large ones by OpenSSL: the same signature
    (Ed25519 is deterministic), here checked against libsodium's for each."""
    private = Ed25519PrivateKey.generate()
    key = SigningKey(private)
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    data = os.urandom(size)
    signature = key.sign(data)
    assert signature == nacl.signing.SigningKey(raw).sign(data).signature
    key.public_key.verify(signature, data)
    with pytest.raises(BadSignatureError):
        key.public_key.verify(signature, data + b"x")


def test_save_creates_0600_and_round_trips(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "node.key"
    key.save(path)
    assert _mode(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = SigningKey.from_file(path)
    assert loaded.key_id == key.key_id
    key.public_key.verify(loaded.sign(b"x"), b"x")


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    path.write_bytes(b"precious")
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        SigningKey.generate().save(path)
    assert path.read_bytes() == b"precious"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_loading_group_or_world_readable_private_key_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "node.key"
    SigningKey.generate().save(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError) as info:
        SigningKey.from_file(path)
    message = str(info.value)
    assert f"chmod 600 {path}" in message
    assert f"mode {mode:04o}" in message
    assert str(path) in message


def test_a_public_key_named_as_the_private_key_says_so(tmp_path: Path) -> None:
    """The .pub (mode 0644) where the .key goes: chmod would not help, so the message does not
    ask for it; a public key's file mode is not a secret's either way."""
    _, pub_path = generate_keypair(tmp_path / "keys", "node")
    with pytest.raises(KeyFileError) as info:
        SigningKey.from_file(pub_path)
    assert str(info.value).startswith(
        f"{pub_path} holds a public key, not a private key; give the private key file")
    assert "chmod" not in str(info.value)


def test_loading_missing_private_key_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(KeyFileError, match="not found") as info:
        SigningKey.from_file(path)
    assert str(path) in str(info.value)


def _private_file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path


def test_loading_malformed_private_key_is_refused(tmp_path: Path) -> None:
    path = _private_file(tmp_path / "bad.key", b"-----BEGIN PRIVATE KEY-----\nnope\n")
    with pytest.raises(KeyFileError, match="not a PEM private key") as info:
        SigningKey.from_file(path)
    assert str(path) in str(info.value)


def test_loading_non_ed25519_private_key_is_refused(tmp_path: Path) -> None:
    ec_key = generate_private_key(SECP256R1())
    pem = ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pw"))
    with pytest.raises(KeyFileError, match="encrypted"):
        SigningKey.from_file(_private_file(tmp_path / "enc.key", pem))
    pem = ec_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(KeyFileError, match="Ed25519 only"):
        SigningKey.from_file(_private_file(tmp_path / "ec.key", pem))


def test_repr_never_shows_key_material(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "k.key"
    key.save(path)
    body = "".join(path.read_text().splitlines()[1:-1])
    text = repr(key)
    assert key.key_id in text
    assert body not in text
    assert body[:16] not in text


def test_public_key_pem_round_trip_and_equality() -> None:
    public = SigningKey.generate().public_key
    pem = public.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    again = PublicKey.from_pem(pem)
    assert again == public
    assert hash(again) == hash(public)
    assert PublicKey.from_raw(public.raw) == public


def test_public_key_rejects_inconsistent_fields() -> None:
    public = SigningKey.generate().public_key
    with pytest.raises(ValueError, match="32 bytes"):
        PublicKey.from_raw(b"short")
    with pytest.raises(ValueError, match="not the SHA-256"):
        PublicKey(key_id="0" * 64, raw=public.raw)


def test_public_key_from_pem_refuses_garbage_and_other_algorithms() -> None:
    with pytest.raises(KeyFileError, match=r"peer\.pub: not a PEM public key"):
        PublicKey.from_pem(b"hello", source="peer.pub")
    ec_pem = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(KeyFileError, match="Ed25519 only"):
        PublicKey.from_pem(ec_pem)


def test_generate_keypair(tmp_path: Path) -> None:
    out_dir = tmp_path / "keys" / "node"
    key_path, pub_path = generate_keypair(out_dir, "marketplace")
    assert (key_path, pub_path) == (out_dir / "marketplace.key", out_dir / "marketplace.pub")
    assert _mode(out_dir) == 0o700
    assert _mode(key_path) == 0o600
    private = SigningKey.from_file(key_path)
    public = load_public_key(pub_path)
    assert private.key_id == public.key_id
    assert private.public_key == public


def test_generate_keypair_refuses_to_overwrite(tmp_path: Path) -> None:
    generate_keypair(tmp_path, "n")
    before = (tmp_path / "n.key").read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_keypair(tmp_path, "n")
    assert (tmp_path / "n.key").read_bytes() == before
    (tmp_path / "m.pub").write_bytes(b"other")
    with pytest.raises(KeyFileError, match="already exists"):
        generate_keypair(tmp_path, "m")
    assert not (tmp_path / "m.key").exists()


@pytest.mark.parametrize("name", ["", "..", "a/b"])
def test_generate_keypair_refuses_path_like_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(KeyFileError, match="invalid key name"):
        generate_keypair(tmp_path, name)


def test_load_public_key_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "peer.pub"
    with pytest.raises(KeyFileError, match="not found") as info:
        load_public_key(missing)
    assert str(missing) in str(info.value)
    missing.write_bytes(b"garbage")
    with pytest.raises(KeyFileError) as info:
        load_public_key(missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("reader", ["public", "private", "linkage"])
def test_key_path_that_is_a_fifo_or_device_or_huge_fails_at_once(
    tmp_path: Path, reader: str
) -> None:
    """A FIFO would block a plain open(); /dev/zero would never end a plain read()."""
    fifo = tmp_path / "key.pem"
    os.mkfifo(fifo, 0o600)
    huge = tmp_path / "huge.pem"
    huge.write_bytes(b"A" * (MAX_KEY_BYTES + 1))
    huge.chmod(0o600)
    load: Callable[[Path], object] = {
        "public": load_public_key,
        "private": SigningKey.from_file,
        "linkage": load_linkage_secret,
    }[reader]
    for path, expected in (
        (fifo, r"is a FIFO \(named pipe\), not a regular file"),
        (Path("/dev/zero"), "is a character device, not a regular file"),
        (huge, f"is larger than {MAX_KEY_BYTES} bytes"),
    ):
        with pytest.raises(KeyFileError, match=expected):
            load(path)
