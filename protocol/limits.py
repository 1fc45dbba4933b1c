"""Limits and identifier formats both ends of a query hold to.

A node refuses what exceeds them and a coordinator keeps within them, so they
exist once, here.
"""

from __future__ import annotations

import re

__all__ = [
    "CHUNK_ROWS",
    "CONSIGNEE_TOTALS_MAX_DAYS",
    "CONSIGNEE_WINDOW_MAX_DAYS",
    "DEFAULT_MESSAGE_BYTES",
    "HOUSE_BILL",
    "HS6",
    "HS_CHAPTER",
    "LARGE_REQUEST_BYTES",
    "MAX_BATCH_SHIPMENTS",
    "MAX_MESSAGE_BYTES",
    "MAX_TEXT_PARAM_CHARS",
    "ORIGIN_COUNTRY",
    "STATISTICS_MAX_DAYS",
]

# Largest gRPC message either side may be configured to send or accept.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Default largest message. Requests are small now that questions carry attested batches
# (a batch of at most 10,000 house bills plus the signed blocks holding them: blocks of
# 1,000 lines, the attest default, are about 0.1 MB each, so a contiguous batch needs
# about 1.2 MB). The largest legitimate message is an answer: consignee totals for a batch
# listing its house bills back, or a Screen stream's chunks of CHUNK_ROWS rows, both far
# below this; 40 MiB leaves room for batches whose bills are scattered over many blocks.
DEFAULT_MESSAGE_BYTES = 40 * 1024 * 1024
# Above this, a request counts as large: a node handles only a few at a time, and refuses a
# Query or Describe this large outright. An attested batch (about 1.2 MB, above) stays
# under it; only batches whose bills are scattered over many blocks exceed it.
LARGE_REQUEST_BYTES = 4 * 1024 * 1024
# Rows per answer chunk of a Screen stream: a node sends at most this many in one
# chunk, and a coordinator expects ceil(rows / CHUNK_ROWS) chunks (at least one).
CHUNK_ROWS = 2_000
# Most shipments one batch parameter may carry (a requester's max_batch may be lower).
MAX_BATCH_SHIPMENTS = 10_000
# Longest date ranges (inclusive) of the aggregate and the linkage queries.
CONSIGNEE_TOTALS_MAX_DAYS = 31
# Longest sliding window (days) a consignee's shipments are summed over.
CONSIGNEE_WINDOW_MAX_DAYS = 14
STATISTICS_MAX_DAYS = 92
# Longest text parameter value (names, list items); refused beyond, never echoed.
MAX_TEXT_PARAM_CHARS = 256

# 4-35: label forms, UPU S10 (13) and USPS IMpb (22+) tracking numbers fit.
HOUSE_BILL = re.compile(r"^[A-Z0-9]{4,35}$")
HS6 = re.compile(r"^[0-9]{6}$")
HS_CHAPTER = re.compile(r"^(0[1-9]|[1-9][0-9])$")
ORIGIN_COUNTRY = re.compile(r"^[A-Z]{2}$")
