"""Limits and identifier formats both ends of a query hold to.

A node refuses what exceeds them and a coordinator keeps within them, so they
exist once, here.
"""

from __future__ import annotations

import re

__all__ = [
    "CONSIGNEE_TOTALS_MAX_DAYS",
    "HOUSE_BILL",
    "HS6",
    "HS_CHAPTER",
    "MAX_BATCH_SHIPMENTS",
    "MAX_MESSAGE_BYTES",
    "MAX_TEXT_PARAM_CHARS",
    "ORIGIN_COUNTRY",
    "STATISTICS_MAX_DAYS",
]

# Largest gRPC message either side sends or accepts: a batch with its attested blocks.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Most shipments one batch parameter may carry (a requester's max_batch may be lower).
MAX_BATCH_SHIPMENTS = 10_000
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
