"""Files written beside their target under a temporary name, renamed into place only when a whole export
has succeeded (so a failed export leaves the previous files as they were), and hashed for the report."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

HASH_CHUNK = 1 << 20


def _temp_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}.tmp")


class StagedFile:
    """A text file written under a temporary name beside its target, hashed as it goes."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = _temp_name(target)
        self.handle: IO[bytes] = open(self.temp, "wb")  # noqa: SIM115 (closed by close/commit/discard)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.lines = 0

    def write_lines(self, lines: list[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8")
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)
        self.lines += len(lines)

    def write_text(self, text: str) -> None:
        data = text.encode("utf-8")
        self.handle.write(data)
        self.sha256.update(data)
        self.size += len(data)

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()

    def commit(self) -> None:
        self.close()
        os.replace(self.temp, self.target)

    def discard(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass


class StagedParquet:
    """A Parquet file written under a temporary name beside its target, one row group per `write_rows` call.

    pyarrow writes the file itself, so it is hashed once closed (read back in chunks): `sha256`, `size` and
    `lines` (rows) then mean the same as a StagedFile's."""

    def __init__(self, target: Path, schema: Any) -> None:
        import pyarrow.parquet as pq  # a core dependency, imported only when a Parquet export is asked for

        self.target = target
        self.temp = _temp_name(target)
        self.schema = schema
        # Fixed options, so the same rows give the same bytes (pyarrow writes no timestamps).
        self.writer = pq.ParquetWriter(self.temp, schema, compression="snappy")
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.lines = 0
        self.closed = False

    def write_rows(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        import pyarrow as pa

        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))
        self.lines += len(rows)

    def close(self) -> None:
        if self.closed:
            return
        self.writer.close()
        self.closed = True
        with open(self.temp, "r+b") as handle:
            while chunk := handle.read(HASH_CHUNK):
                self.sha256.update(chunk)
                self.size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())

    def commit(self) -> None:
        self.close()
        os.replace(self.temp, self.target)

    def discard(self) -> None:
        if not self.closed:
            self.writer.close()
            self.closed = True
        try:
            self.temp.unlink()
        except FileNotFoundError:
            pass
