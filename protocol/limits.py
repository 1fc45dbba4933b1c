"""Limits and identifier formats both ends of a query hold to.

A node refuses what exceeds them and a coordinator keeps within them, so they
exist once, here.
"""

from __future__ import annotations

import re

__all__ = [
    "CHUNK_ROWS",
    "CONSIGNEE_TOTALS_MAX_DAYS",
    "DEFAULT_MESSAGE_BYTES",
    "HOUSE_BILL",
    "HS6",
    "HS_CHAPTER",
    "LARGE_REQUEST_BYTES",
    "MAX_BATCH_SHIPMENTS",
    "MAX_LISTED_HOUSE_BILLS",
    "MAX_MESSAGE_BYTES",
    "MAX_TEXT_PARAM_CHARS",
    "ORIGIN_COUNTRY",
    "STATISTICS_MAX_DAYS",
]

# Largest gRPC message either side may be configured to send or accept.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Default largest message, sized from the wire encoding of the largest legitimate one:
# a consignee totals request listing a whole manifest's house bills. Each bill costs a
# tag byte, a length byte and at most 35 characters: 37 bytes; a 1,000,000-shipment
# manifest (the design's sizing) is 37,000,000 bytes, 35.3 MiB, plus under 1 KiB of
# query fields, signatures and framing. A Screen batch is far smaller: 10,000 shipments
# (the default max_batch) cost at most 37 + 8 (hs6) + 8 (value) bytes each, 0.53 MB.
# The consignee totals answer carries at most those bills back (once each), so the
# coordinator's receive limit is the same figure.
DEFAULT_MESSAGE_BYTES = 40 * 1024 * 1024
# Above this, a request counts as large: a node handles only a few at a time. A Screen
# batch of 10,000 shipments (0.53 MB) stays under it; only whole-manifest lists exceed it.
LARGE_REQUEST_BYTES = 1024 * 1024
# Rows per answer chunk of a Screen stream: a node sends at most this many in one
# chunk, and a coordinator expects ceil(rows / CHUNK_ROWS) chunks (at least one).
CHUNK_ROWS = 2_000
# Most shipments one batch parameter may carry (a requester's max_batch may be lower).
MAX_BATCH_SHIPMENTS = 10_000
# Most house bills one consignee totals query may place in its groups: a whole manifest.
MAX_LISTED_HOUSE_BILLS = 2_000_000
# Longest date ranges (inclusive) of the aggregate and the linkage queries.
CONSIGNEE_TOTALS_MAX_DAYS = 31
STATISTICS_MAX_DAYS = 92
# Longest text parameter value (names, list items); refused beyond, never echoed.
MAX_TEXT_PARAM_CHARS = 256

# 4-35: label forms, UPU S10 (13) and USPS IMpb (22+) tracking numbers fit.
HOUSE_BILL = re.compile(r"^[A-Z0-9]{4,35}$")
HS6 = re.compile(r"^[0-9]{6}$")
HS_CHAPTER = re.compile(r"^(0[1-9]|[1-9][0-9])$")
ORIGIN_COUNTRY = re.compile(r"^[A-Z]{2}$")
