from __future__ import annotations

import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.trust.errors import KeyFileError
from fedtrade.trust.pki import (
    CaFiles,
    CertFiles,
    certificate_names,
    init_ca,
    issue_certificate,
    load_tls_files,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture
def ca(tmp_path: Path) -> CaFiles:
    return init_ca(tmp_path / "ca")


def _issue(
    ca: CaFiles, name: str, out: Path, *, days: int = 365, not_before: datetime | None = None
) -> CertFiles:
    return issue_certificate(ca.cert.parent, name, out, days=days, not_before=not_before)


def test_init_ca_writes_a_private_key_and_a_ca_certificate(tmp_path: Path) -> None:
    files = init_ca(tmp_path / "ca", name="test federation CA", days=30)
    assert (files.cert.name, files.key.name) == ("ca.crt", "ca.key")
    assert _mode(files.key) == 0o600
    assert _mode(files.cert) == 0o644
    cert = _cert(files.cert)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "test federation CA"
    )
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert timedelta(days=30) <= lifetime <= timedelta(days=30, minutes=10)
    cert.verify_directly_issued_by(cert)


def test_init_ca_refuses_to_overwrite(ca: CaFiles) -> None:
    before = ca.key.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        init_ca(ca.cert.parent)
    assert ca.key.read_bytes() == before


def test_issued_certificate_names_the_id_for_both_ends_of_mutual_tls(
    ca: CaFiles, tmp_path: Path
) -> None:
    files = _issue(ca, "carrier-1", tmp_path / "out")
    assert files.cert == tmp_path / "out" / "carrier-1.tls.crt"
    assert files.key == tmp_path / "out" / "carrier-1.tls.key"
    assert _mode(files.key) == 0o600
    cert = _cert(files.cert)
    cert.verify_directly_issued_by(_cert(ca.cert))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["carrier-1"]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "carrier-1"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"
    assert files.not_after == cert.not_valid_after_utc
    # It can share a folder with the Ed25519 signing key pair of the same name.
    assert not (tmp_path / "out" / "carrier-1.key").exists()


def test_issue_refuses_to_overwrite(ca: CaFiles, tmp_path: Path) -> None:
    files = _issue(ca, "broker-1", tmp_path)
    before = files.key.read_bytes()
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        _issue(ca, "broker-1", tmp_path)
    assert files.key.read_bytes() == before


@pytest.mark.parametrize(
    "name", ["", "Carrier-1", "carrier 1", "../carrier", "a/b", "-x", "x" * 64, "127.0.0.1"]
)
def test_issue_refuses_names_that_are_not_ids(ca: CaFiles, tmp_path: Path, name: str) -> None:
    with pytest.raises(KeyFileError, match=r"not a valid node or coordinator id|IP address"):
        _issue(ca, name, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_certificate_never_outlives_its_ca(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", days=10)
    files = _issue(ca, "node-1", tmp_path, days=365)
    assert files.not_after == _cert(ca.cert).not_valid_after_utc


def test_issue_refuses_an_expired_ca(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", days=1, not_before=datetime.now(UTC) - timedelta(days=3))
    with pytest.raises(KeyFileError, match=r"the CA certificate expired on .*fedtrade pki init"):
        _issue(ca, "node-1", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_load_tls_files_refuses_an_expired_ca(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", days=30, not_before=datetime.now(UTC) - timedelta(days=10))
    files = _issue(ca, "node-1", tmp_path)
    later = datetime.now(UTC) + timedelta(days=25)
    with pytest.raises(KeyFileError, match=r"ca\.crt: certificate expired on .*fedtrade pki init"):
        load_tls_files(files.cert, files.key, ca.cert, now=later)


def test_load_tls_files_returns_checked_material(ca: CaFiles, tmp_path: Path) -> None:
    files = _issue(ca, "marketplace-1", tmp_path)
    material = load_tls_files(files.cert, files.key, ca.cert)
    assert material.names == {"marketplace-1"}
    assert material.certificate_chain == files.cert.read_bytes()
    assert material.private_key == files.key.read_bytes()
    assert material.root_certificates == ca.cert.read_bytes()
    assert material.not_after == files.not_after
    assert "PRIVATE KEY" not in repr(material)


def test_load_tls_files_refuses_a_key_others_can_read(ca: CaFiles, tmp_path: Path) -> None:
    files = _issue(ca, "marketplace-1", tmp_path)
    files.key.chmod(0o644)
    with pytest.raises(KeyFileError, match=r"readable by group/others.*chmod 600"):
        load_tls_files(files.cert, files.key, ca.cert)


def test_load_tls_files_names_a_certificate_given_as_the_key(ca: CaFiles,
                                                              tmp_path: Path) -> None:
    files = _issue(ca, "marketplace-1", tmp_path)
    with pytest.raises(KeyFileError, match=rf"{files.cert} holds a certificate, not a TLS "
                                           "private key; give the TLS private key file"):
        load_tls_files(files.cert, files.cert, ca.cert)


def test_load_tls_files_refuses_an_expired_certificate(ca: CaFiles, tmp_path: Path) -> None:
    past = datetime.now(UTC) - timedelta(days=10)
    files = _issue(ca, "carrier-1", tmp_path, days=2, not_before=past)
    with pytest.raises(KeyFileError) as caught:
        load_tls_files(files.cert, files.key, ca.cert)
    message = str(caught.value)
    assert str(files.cert) in message
    assert f"expired on {files.not_after:%Y-%m-%d}" in message
    assert f"valid from {past:%Y-%m-%d %H:%M}" in message
    assert "fedtrade pki issue --ca CA_DIR --name carrier-1" in message


def test_load_tls_files_refuses_a_certificate_not_valid_yet(ca: CaFiles, tmp_path: Path) -> None:
    files = _issue(ca, "carrier-1", tmp_path)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    with pytest.raises(KeyFileError, match=r"not valid yet.*clock"):
        load_tls_files(files.cert, files.key, ca.cert, now=earlier)


def test_load_tls_files_refuses_a_certificate_from_another_ca(ca: CaFiles, tmp_path: Path) -> None:
    other = init_ca(tmp_path / "other-ca", name="someone else's CA")
    files = _issue(other, "broker-1", tmp_path)
    with pytest.raises(KeyFileError, match=r"was not issued by the CA in .*someone else's CA"):
        load_tls_files(files.cert, files.key, ca.cert)


def test_load_tls_files_refuses_a_key_of_another_certificate(ca: CaFiles, tmp_path: Path) -> None:
    one = _issue(ca, "broker-1", tmp_path)
    two = _issue(ca, "broker-2", tmp_path)
    with pytest.raises(KeyFileError, match="is not the private key of"):
        load_tls_files(one.cert, two.key, ca.cert)


def test_load_tls_files_names_a_missing_or_broken_file(ca: CaFiles, tmp_path: Path) -> None:
    files = _issue(ca, "broker-1", tmp_path)
    with pytest.raises(KeyFileError, match=r"missing\.crt: TLS certificate file not found"):
        load_tls_files(tmp_path / "missing.crt", files.key, ca.cert)
    garbage = tmp_path / "garbage.crt"
    garbage.write_bytes(b"not a certificate")
    with pytest.raises(KeyFileError, match=r"garbage\.crt: not a PEM certificate"):
        load_tls_files(garbage, files.key, ca.cert)
    with pytest.raises(KeyFileError, match="not a PEM certificate"):
        load_tls_files(files.cert, files.key, garbage)


@settings(max_examples=15, deadline=None)
@given(name=st.from_regex(r"[a-z][a-z0-9._-]{0,20}", fullmatch=True))
def test_any_id_round_trips_through_a_certificate(name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ca = init_ca(root / "ca")
        files = _issue(ca, name, root / "out")
        assert certificate_names(files.cert.read_bytes()) == {name}
        assert load_tls_files(files.cert, files.key, ca.cert).names == {name}
