"""AEO certificates: signed by the listed authority, for one node, in a window, unless revoked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedtrade.protocol.aeo import (
    PAYLOAD_AEO_CERTIFICATE,
    AeoAuthority,
    CertificateError,
    append_to_register,
    check_certificate,
    issue_certificate,
    read_certificate,
    read_register,
    revoke_certificate,
)
from fedtrade.trust.envelope import Envelope, sign
from fedtrade.trust.errors import DataError
from fedtrade.trust.keys import SigningKey

T0 = datetime(2026, 11, 1, tzinfo=UTC)
KEY = SigningKey.generate()
AUTHORITY = AeoAuthority("cbp-aeo", KEY.public_key)


def _issue(key: SigningKey = KEY, *, authority_id: str = "cbp-aeo", node_id: str = "carrier-1",
           role: str = "carrier", start: datetime = T0, end: datetime = T0 + timedelta(days=365),
           ) -> Envelope:
    return issue_certificate(
        key, authority_id=authority_id, node_id=node_id, role=role, legal_name="Carrier One Ltd",
        tier="gold", valid_from=start, valid_until=end,
        conditions=["answers within the node deadline"], issued_at=T0)


def _check(envelope: Envelope, at: datetime = T0 + timedelta(days=1), **kw: object) -> object:
    options: dict[str, object] = {"node_id": "carrier-1", "role": "carrier", "register": None}
    options.update(kw)
    return check_certificate(envelope, AUTHORITY, at=at, **options)  # type: ignore[arg-type]


def test_a_certificate_round_trips_and_names_what_was_signed() -> None:
    envelope = _issue()
    assert envelope.payload_type == PAYLOAD_AEO_CERTIFICATE
    certificate = read_certificate(envelope, AUTHORITY)
    assert (certificate.node_id, certificate.role, certificate.tier, certificate.legal_name) == (
        "carrier-1", "carrier", "gold", "Carrier One Ltd")
    assert certificate.valid_from == T0
    assert certificate.conditions == ("answers within the node deadline",)
    assert len(certificate.certificate_id) == 32
    assert _check(envelope) == certificate


@settings(max_examples=60, deadline=None)
@given(start=st.integers(-1000, 1000), length=st.integers(1, 2000), at=st.integers(-3000, 3000))
def test_a_certificate_counts_exactly_inside_its_window(start: int, length: int, at: int) -> None:
    begin = T0 + timedelta(hours=start)
    envelope = _issue(start=begin, end=begin + timedelta(hours=length))
    moment = T0 + timedelta(hours=at)
    inside = begin <= moment < begin + timedelta(hours=length)
    if inside:
        _check(envelope, moment)
    else:
        with pytest.raises(CertificateError, match=r"expired|not valid before"):
            _check(envelope, moment)


@settings(max_examples=40, deadline=None)
@given(revoked_after=st.integers(0, 360), at=st.integers(0, 364))
def test_a_revocation_counts_from_its_moment_on(revoked_after: int, at: int,
                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    register_path = tmp_path_factory.mktemp("reg") / "register.jsonl"
    envelope = _issue()
    register = append_to_register(register_path, AUTHORITY, envelope)
    (certificate,) = register.certificates
    revoked_at = T0 + timedelta(days=revoked_after)
    register = append_to_register(register_path, AUTHORITY, revoke_certificate(
        KEY, certificate, reason="data withheld", revoked_at=revoked_at))
    moment = T0 + timedelta(days=at)
    if moment < revoked_at:
        _check(envelope, moment, register=register)
    else:
        with pytest.raises(CertificateError, match=r"revoked on .*\(data withheld\)"):
            _check(envelope, moment, register=register)


@given(st.data())
@settings(max_examples=40, deadline=None)
def test_a_tampered_certificate_is_refused(data: st.DataObject) -> None:
    envelope = _issue()
    index = data.draw(st.integers(0, len(envelope.payload) - 1))
    flip = data.draw(st.integers(1, 255))
    payload = bytearray(envelope.payload)
    payload[index] ^= flip
    with pytest.raises(CertificateError, match="not signed by the AEO authority"):
        _check(replace(envelope, payload=bytes(payload)))


def test_a_certificate_for_another_node_or_role_does_not_count() -> None:
    with pytest.raises(CertificateError, match="is for node 'broker-1', presented by 'carrier-1'"):
        _check(_issue(node_id="broker-1", role="broker"))
    with pytest.raises(CertificateError, match="is for a broker node; carrier-1 is a carrier"):
        _check(_issue(role="broker"))


def test_an_untrusted_authority_or_payload_type_does_not_count() -> None:
    forger = SigningKey.generate()
    with pytest.raises(CertificateError, match="not signed by the AEO authority 'cbp-aeo'"):
        _check(_issue(forger))
    # the listed key signing under another authority's name
    with pytest.raises(CertificateError, match="names authority 'other-aeo'"):
        _check(_issue(authority_id="other-aeo"))
    # a certificate's bytes signed as another payload type (e.g. a manifest block)
    envelope = _issue()
    retyped = sign("application/vnd.fedtrade.manifest-block.v1+protobuf", envelope.payload, [KEY])
    with pytest.raises(CertificateError, match="not signed by the AEO authority"):
        _check(retyped)


def test_malformed_certificates_are_not_issued() -> None:
    with pytest.raises(DataError, match="end after it starts"):
        _issue(end=T0)
    with pytest.raises(DataError, match="not a valid node id"):
        _issue(node_id="Carrier One")
    with pytest.raises(DataError, match="role must be one of"):
        _issue(role="importer")


def test_a_damaged_register_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "register.jsonl"
    append_to_register(path, AUTHORITY, _issue())
    append_to_register(path, AUTHORITY, _issue(node_id="broker-1", role="broker"))
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1].replace('"sig":"', '"sig":"AAAA', 1) + "\n")
    with pytest.raises(DataError, match=r"line 2: .*not signed by the AEO authority"):
        read_register(path, AUTHORITY)
    with pytest.raises(DataError, match="line 2"):  # nobody extends a damaged register
        append_to_register(path, AUTHORITY, _issue())
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert read_register(empty, AUTHORITY).certificates == ()
