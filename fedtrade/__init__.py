"""fedtrade: federated data sharing for cross-border e-commerce.

Subpackages, bottom up (a layer never imports one above it): ``trust`` and ``protos``;
``protocol``; ``node`` and ``coordinator`` side by side; ``sim`` (tooling).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fedtrade")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
