"""The federation's TLS certificates: a private CA and one leaf certificate per party.

Transport security is mutual TLS between the coordinator and every node. The
federation runs its own small certificate authority: ``init_ca`` creates it,
``issue_certificate`` gives each node and the coordinator a certificate whose
subject alternative name is its id, and ``load_tls_files`` loads and checks
what a process will present (key permissions, validity window, issuer) before
gRPC sees it, so a bad file fails with a message instead of a handshake error.

Keys are ECDSA P-256: every TLS stack gRPC is built on accepts it for both
server and client certificates (Ed25519 certificates are not). Request and
answer signatures stay Ed25519 (``trust.keys``); these keys only secure the
channel.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedtrade.trust.errors import KeyFileError
from fedtrade.trust.files import MAX_KEY_BYTES, FileShapeError, read_capped
from fedtrade.trust.ids import is_valid_id
from fedtrade.trust.keys import read_secret_file, write_secret_file
from fedtrade.trust.yamlconfig import ConfigMapping

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "CaFiles",
    "CertFiles",
    "TlsMaterial",
    "certificate_names",
    "init_ca",
    "issue_certificate",
    "issue_from_csr",
    "load_tls_files",
    "load_tls_section",
    "write_csr",
]

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
# Leaf files get a ".tls" infix so they can share a folder with the Ed25519
# signing key pair NAME.key / NAME.pub written by `fedtrade keygen`.
_CERT_SUFFIX = ".tls.crt"
_KEY_SUFFIX = ".tls.key"
_CSR_SUFFIX = ".tls.csr"
# Tolerate this much clock difference between the issuing machine and the peers.
_BACKDATE = timedelta(minutes=5)
_INIT_HINT = "create one with `fedtrade pki init --out DIR`"


def _issue_hint(name: str) -> str:
    return f"issue a new one with `fedtrade pki issue --ca CA_DIR --name {name} --out DIR`"


@dataclass(frozen=True)
class CaFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path
    not_after: datetime


@dataclass(frozen=True)
class TlsMaterial:
    """PEM bytes ready for gRPC credentials; checked by ``load_tls_files``."""

    certificate_chain: bytes
    private_key: bytes = field(repr=False)
    root_certificates: bytes
    names: frozenset[str]
    not_after: datetime
    ca_not_after: datetime | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _write_certificate(path: Path, cert: x509.Certificate, what: str) -> None:
    write_secret_file(path, cert.public_bytes(Encoding.PEM), what)
    os.chmod(path, 0o644)  # a certificate is public; peers and tools may read it


def _refuse_existing(*paths: Path) -> None:
    for path in paths:
        if path.exists():
            raise KeyFileError(
                f"{path} already exists; refusing to overwrite it: move it away first "
                "or choose another folder"
            )


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot create folder: {exc.strerror}") from None


def init_ca(
    out_dir: Path,
    *,
    name: str = "fedtrade federation CA",
    days: int = 3650,
    not_before: datetime | None = None,
) -> CaFiles:
    """Create a new federation CA as ``ca.crt`` and ``ca.key`` (mode 0600) in ``out_dir``.

    ``not_before`` defaults to now (minus a few minutes of clock slack).
    """
    if days < 1:
        raise KeyFileError(f"a CA must be valid for at least one day, not {days}")
    files = CaFiles(out_dir / CA_CERT_FILE, out_dir / CA_KEY_FILE)
    _refuse_existing(files.cert, files.key)
    _make_dir(out_dir)
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = not_before if not_before is not None else _now() - _BACKDATE
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_secret_file(files.key, _key_pem(key), "CA private key")
    try:
        _write_certificate(files.cert, cert, "CA certificate")
    except BaseException:
        files.key.unlink(missing_ok=True)
        raise
    return files


def _check_name(name: str) -> None:
    if not is_valid_id(name):
        raise KeyFileError(
            f"{name!r} is not a valid node or coordinator id: use 1-63 lowercase letters, "
            "digits, '.', '_' or '-', exactly as in the configs"
        )
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return
    raise KeyFileError(
        f"{name!r} looks like an IP address; TLS would check it against IP addresses, not "
        "names: give the node an id such as 'carrier-1'"
    )


def _load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = ca_dir / CA_CERT_FILE, ca_dir / CA_KEY_FILE
    cert = _parse_certificate(_read_public(cert_path, "CA certificate", _INIT_HINT), cert_path)
    key = _parse_private_key(
        read_secret_file(key_path, "CA private key", hint=_INIT_HINT), key_path
    )
    if _public_bytes(key) != _public_bytes(cert):
        raise KeyFileError(f"{key_path} is not the private key of {cert_path}; {_INIT_HINT}")
    now = _now()
    if now > cert.not_valid_after_utc:
        raise KeyFileError(
            f"{cert_path}: the CA certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}; "
            f"{_INIT_HINT} and issue every certificate again"
        )
    return cert, key


def issue_certificate(
    ca_dir: Path,
    name: str,
    out_dir: Path,
    *,
    days: int = 365,
    not_before: datetime | None = None,
) -> CertFiles:
    """Issue a certificate for the node or coordinator ``name``: NAME.tls.crt and NAME.tls.key.

    The id is the certificate's only DNS name (and its common name); peers check
    it against the id they expect. The certificate serves both ends of mutual
    TLS. ``not_before`` defaults to now (minus a few minutes of clock slack); the
    validity never outlasts the CA's.
    """
    _check_name(name)
    files_cert, files_key = out_dir / f"{name}{_CERT_SUFFIX}", out_dir / f"{name}{_KEY_SUFFIX}"
    _refuse_existing(files_cert, files_key)
    ca_cert, ca_key = _load_ca(ca_dir)
    key = _new_key()
    cert = _sign_leaf(ca_cert, ca_key, name, key.public_key(), days, not_before)
    _make_dir(out_dir)
    write_secret_file(files_key, _key_pem(key), "TLS private key")
    try:
        _write_certificate(files_cert, cert, "TLS certificate")
    except BaseException:
        files_key.unlink(missing_ok=True)
        raise
    return CertFiles(cert=files_cert, key=files_key, not_after=cert.not_valid_after_utc)


def write_csr(name: str, out_dir: Path) -> tuple[Path, Path]:
    """A new TLS key (NAME.tls.key, mode 0600) and a signing request for it (NAME.tls.csr).

    The key never leaves the party: the CA's holder issues the certificate from the
    request (``issue_from_csr``) and sends back only NAME.tls.crt.
    """
    _check_name(name)
    key_path, csr_path = out_dir / f"{name}{_KEY_SUFFIX}", out_dir / f"{name}{_CSR_SUFFIX}"
    _refuse_existing(key_path, csr_path)
    key = _new_key()
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    _make_dir(out_dir)
    write_secret_file(key_path, _key_pem(key), "TLS private key")
    try:
        write_secret_file(csr_path, request.public_bytes(Encoding.PEM), "certificate request")
        os.chmod(csr_path, 0o644)  # a request holds only the public key
    except BaseException:
        key_path.unlink(missing_ok=True)
        raise
    return key_path, csr_path


def issue_from_csr(ca_dir: Path, csr_path: Path, out_dir: Path, *, days: int = 365) -> CertFiles:
    """Issue NAME.tls.crt for a request written by ``write_csr``; NAME is the id it names.

    The request's signature must verify (its sender holds the key) and it must name
    exactly one valid id; what else it asks for is ignored: the CA decides the rest.
    """
    data = _read_public(csr_path, "certificate request", "create one with `fedtrade-node init`")
    try:
        request = x509.load_pem_x509_csr(data)
    except ValueError:
        raise KeyFileError(
            f"{csr_path}: not a PEM certificate request; expected a '-----BEGIN CERTIFICATE "
            "REQUEST-----' file as written by `fedtrade-node init`") from None
    if not request.is_signature_valid:
        raise KeyFileError(f"{csr_path}: the request's signature does not verify; ask for a "
                           "new one")
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    if len(names) != 1:
        raise KeyFileError(f"{csr_path}: the request must name exactly one node or coordinator "
                           f"id, not {names or 'none'}; ask for a new one")
    name = names[0]
    _check_name(name)
    public = request.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise KeyFileError(f"{csr_path}: the request's key is {type(public).__name__}; "
                           "fedtrade's TLS keys are ECDSA P-256 (`fedtrade-node init`)")
    cert_path = out_dir / f"{name}{_CERT_SUFFIX}"
    _refuse_existing(cert_path)
    ca_cert, ca_key = _load_ca(ca_dir)
    cert = _sign_leaf(ca_cert, ca_key, name, public, days, None)
    _make_dir(out_dir)
    _write_certificate(cert_path, cert, "TLS certificate")
    return CertFiles(cert=cert_path, key=out_dir / f"{name}{_KEY_SUFFIX}",
                     not_after=cert.not_valid_after_utc)


def _sign_leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    name: str,
    public: ec.EllipticCurvePublicKey,
    days: int,
    not_before: datetime | None,
) -> x509.Certificate:
    if days < 1:
        raise KeyFileError(f"a certificate must be valid for at least one day, not {days}")
    start = not_before if not_before is not None else _now() - _BACKDATE
    end = min(start + timedelta(days=days), ca_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _read_public(path: Path, what: str, hint: str) -> bytes:
    try:
        return read_capped(path, MAX_KEY_BYTES)
    except FileNotFoundError:
        raise KeyFileError(f"{path}: {what} file not found; check the path or {hint}") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read {what} file: {exc.strerror}") from None
    except FileShapeError as exc:
        raise KeyFileError(f"{path}: {what} file {exc}") from None


def _parse_certificate(data: bytes, path: Path | str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise KeyFileError(
            f"{path}: not a PEM certificate; expected a '-----BEGIN CERTIFICATE-----' file "
            "as written by `fedtrade pki`"
        ) from None


def _parse_private_key(data: bytes, path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(
            f"{path}: private key is encrypted; gRPC needs it unencrypted and protected by "
            "file permissions (mode 0600)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(
            f"{path}: not a PEM private key; expected a '-----BEGIN PRIVATE KEY-----' file "
            "as written by `fedtrade pki`"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFileError(
            f"{path}: TLS key is {type(key).__name__}; fedtrade's TLS keys are ECDSA P-256 "
            "as written by `fedtrade pki`"
        )
    return key


def _public_bytes(item: ec.EllipticCurvePrivateKey | x509.Certificate) -> bytes:
    return item.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return set(san.get_values_for_type(x509.DNSName))


def certificate_names(cert_pem: bytes) -> set[str]:
    """The DNS names (fedtrade ids) in a PEM certificate's subject alternative name."""
    return _names(_parse_certificate(cert_pem, "<certificate>"))


def _check_window(cert: x509.Certificate, path: Path, now: datetime, fix: str) -> None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    window = f"valid from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    if now > end:
        raise KeyFileError(f"{path}: certificate expired on {end:%Y-%m-%d} ({window}); {fix}")
    if now < start:
        raise KeyFileError(
            f"{path}: certificate is not valid yet ({window}); check this machine's clock, or {fix}"
        )


def load_tls_files(cert: Path, key: Path, ca: Path, *, now: datetime | None = None) -> TlsMaterial:
    """Load a party's certificate, its private key and the federation CA, checking them.

    Refuses a key file that group or others can read, a key that does not match
    the certificate, a certificate or CA outside its validity window, and a
    certificate the CA did not sign.
    """
    moment = now or _now()
    cert_pem = _read_public(cert, "TLS certificate", "issue one with `fedtrade pki issue`")
    key_pem = read_secret_file(key, "TLS private key", hint="issue one with `fedtrade pki issue`")
    ca_pem = _read_public(ca, "CA certificate", "copy the federation's ca.crt here")
    leaf = _parse_certificate(cert_pem, cert)
    private = _parse_private_key(key_pem, key)
    authority = _parse_certificate(ca_pem, ca)
    names = _names(leaf)
    label = ", ".join(sorted(names)) or "NAME"
    if _public_bytes(private) != _public_bytes(leaf):
        raise KeyFileError(
            f"{key} is not the private key of {cert}; point the config at the key issued "
            "together with this certificate"
        )
    _check_window(authority, ca, moment, f"{_INIT_HINT} and issue every certificate again")
    try:
        leaf.verify_directly_issued_by(authority)
    except (ValueError, TypeError, InvalidSignature):
        raise KeyFileError(
            f"{cert} was not issued by the CA in {ca} (issuer "
            f"'{leaf.issuer.rfc4514_string()}', CA '{authority.subject.rfc4514_string()}'); "
            f"point the config at this federation's ca.crt, or {_issue_hint(label)}"
        ) from None
    _check_window(leaf, cert, moment, _issue_hint(label))
    if not names:
        raise KeyFileError(f"{cert} names no node or coordinator id; {_issue_hint('ID')}")
    return TlsMaterial(
        certificate_chain=cert_pem,
        private_key=key_pem,
        root_certificates=ca_pem,
        names=frozenset(names),
        not_after=leaf.not_valid_after_utc,
        ca_not_after=authority.not_valid_after_utc,
    )


def load_tls_section(section: ConfigMapping | None) -> TlsMaterial | None:
    """The optional ``tls: {cert, key, ca}`` section of a node or coordinator config."""
    if section is None:
        return None
    files = {key: section.path(key) for key in ("cert", "key", "ca")}
    section.finish()
    try:
        return load_tls_files(files["cert"], files["key"], files["ca"])
    except KeyFileError as exc:
        raise section.error(str(exc)) from exc
