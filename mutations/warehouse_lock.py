"""One message for "another process holds the warehouse", shared by every CLI that opens it.

DuckDB lets one process write a database file (or several read it); any other open fails with an IOException
like `Could not set lock on file "…": Conflicting lock is held in /usr/bin/python3 (PID 1234). …`. The CLIs
turn that into one line a user can act on. This module only reads the error's text, so it needs no DuckDB.
(`exporters` keeps a twin in exporters/warehouse.py: it imports nothing of ours.)
"""

from __future__ import annotations

import os
import re

__all__ = ["in_use_message"]

_LOCK_CONFLICT = "Could not set lock on file"
_HOLDER_PID = re.compile(r"Conflicting lock is held in .*\(PID (\d+)\)")


def in_use_message(path: str | os.PathLike[str], error: BaseException) -> str | None:
    """`the warehouse PATH is in use by another process (PID N); wait for it or close it` when `error` is
    DuckDB's lock conflict (the PID only when DuckDB names it), else None."""
    text = str(error)
    if _LOCK_CONFLICT not in text:
        return None
    holder = _HOLDER_PID.search(text)
    pid = f" (PID {holder.group(1)})" if holder else ""
    return f"the warehouse {os.fspath(path)} is in use by another process{pid}; wait for it or close it"
