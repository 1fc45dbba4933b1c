"""Tooling, not product: synthetic worlds, evaluation against their truth, the pooled
baseline the federation is benchmarked against, and the demo federation builder.

No product package (trust, protos, protocol, node, coordinator) imports this package.
"""
