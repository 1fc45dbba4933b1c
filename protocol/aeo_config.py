"""The ``aeo.authority`` config section node and coordinator configs share."""

from __future__ import annotations

from pathlib import Path

from fedtrade.protocol.aeo import AeoAuthority, Register, read_register
from fedtrade.trust.errors import FedtradeError, KeyFileError
from fedtrade.trust.ids import is_valid_id
from fedtrade.trust.keys import load_public_key
from fedtrade.trust.yamlconfig import ConfigMapping

__all__ = ["load_authority", "load_register"]


def load_authority(section: ConfigMapping) -> AeoAuthority:
    """``authority: {id, public_key}``: whose signature makes an AEO certificate count."""
    authority_id = section.text("id")
    if not is_valid_id(authority_id):
        raise section.error(f"{authority_id!r} is not a valid id", "id")
    try:
        key = load_public_key(section.path("public_key"))
    except KeyFileError as exc:
        raise section.error(str(exc), "public_key") from exc
    section.finish()
    return AeoAuthority(authority_id, key)


def load_register(section: ConfigMapping, key: str, authority: AeoAuthority) -> Register:
    """The authority's register at ``key`` (a path), every line verified."""
    path: Path = section.path(key)
    try:
        return read_register(path, authority)
    except FedtradeError as exc:
        raise section.error(f"{exc}; get the current register from the AEO authority",
                            key) from None
