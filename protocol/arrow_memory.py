"""Arrow's buffers from jemalloc, which hands freed pages back to the system at once.

pyarrow's default pool (mimalloc) keeps the pages a run of rows or a batch freed, so a
process working through a large file a piece at a time grows with the file; jemalloc with
``decay_ms`` 0 returns them (the coordinator's manifest read and the filer's attest both
measured lower peaks with it).
"""

from __future__ import annotations

import contextlib

import pyarrow as pa

__all__ = ["return_freed_arrow_pages"]


def return_freed_arrow_pages() -> None:
    """Make jemalloc, releasing freed pages at once, Arrow's default pool (idempotent).

    A pyarrow wheel built without jemalloc raises NotImplementedError: the default pool
    stays then, and only the release of freed pages is lost, never a result."""
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(0)
