"""The floors the benchmarks measure against: the bare operations a stage cannot beat, each defined once.

Run as `python bench/<name>.py`, a benchmark finds this module beside it.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import duckdb

# The judge's floor tokenizes with one regex: quoted literals and identifiers, numbers, words, then any other
# single character.
TOKEN_RE = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\w+|\S")


def read_tree(root: str | os.PathLike[str]) -> tuple[float, int, int]:
    """Ingest's floor: walk the tree and read every file's bytes in a plain loop; (seconds, files, bytes)."""
    start = time.perf_counter()
    files = size = 0
    for directory, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(directory, name), "rb") as handle:
                size += len(handle.read())
            files += 1
    return time.perf_counter() - start, files, size


def dump_chat_examples(warehouse: Path, out: Path) -> float:
    """Export's floor: read the dataset rows and json.dumps each chat example to a file, no checks, no tokens;
    seconds."""
    start = time.perf_counter()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        with open(out, "w", encoding="utf-8") as handle:
            cursor = con.execute("SELECT system_prompt, user_content, assistant_content FROM marts.dataset_examples "
                                 "ORDER BY split, position")
            while rows := cursor.fetchmany(2048):
                handle.write("".join(json.dumps({"messages": [
                    {"role": "system", "content": system}, {"role": "user", "content": user},
                    {"role": "assistant", "content": assistant}]}, ensure_ascii=False) + "\n"
                    for system, user, assistant in rows))
    finally:
        con.close()
    return time.perf_counter() - start
