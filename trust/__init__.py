"""fedtrade's shared security core: keys, signed envelopes, strict configs, errors.

It imports neither grpc nor sqlite, so node and coordinator share one copy of
every security check.
"""

from fedtrade.trust.envelope import (
    Envelope,
    Signature,
    Verified,
    pae,
    sign,
    verify,
    verify_threshold,
)
from fedtrade.trust.errors import (
    AudienceError,
    AuthorizationError,
    BadSignatureError,
    ConfigError,
    DataError,
    FedtradeError,
    FreshnessError,
    KeyFileError,
    MalformedRequestError,
    NodeUnavailableError,
    RateLimitError,
    ReplayError,
    ThresholdError,
    UnknownKeyError,
    VerificationError,
)
from fedtrade.trust.keys import (
    PublicKey,
    SigningKey,
    generate_keypair,
    key_id_for,
    load_public_key,
)
from fedtrade.trust.yamlconfig import ConfigMapping, load_yaml, load_yaml_text

__all__ = [
    "AudienceError",
    "AuthorizationError",
    "BadSignatureError",
    "ConfigError",
    "ConfigMapping",
    "DataError",
    "Envelope",
    "FedtradeError",
    "FreshnessError",
    "KeyFileError",
    "MalformedRequestError",
    "NodeUnavailableError",
    "PublicKey",
    "RateLimitError",
    "ReplayError",
    "Signature",
    "SigningKey",
    "ThresholdError",
    "UnknownKeyError",
    "VerificationError",
    "Verified",
    "generate_keypair",
    "key_id_for",
    "load_public_key",
    "load_yaml",
    "load_yaml_text",
    "pae",
    "sign",
    "verify",
    "verify_threshold",
]
