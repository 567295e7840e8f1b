"""Reading the pairs out of a PINOLO output tree, for judging them without a warehouse.

The full ingest (with quarantine tables and incremental loads) lives in `ingest/`; this is the light path
that `python -m mutations pairs` uses: every bug `.json` under a root, with its provenance, and a precise
reason for every file that cannot be used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .formats import FormatError, parse_bug_file_name, parse_bug_json
from .strategies import STRATEGIES

REPORT_FOLDERS = ("bugs", "maystable", "unstable", "sqlsim")
_TASK_DIR = re.compile(r"^task-\d+$")
_KNOWN = frozenset(STRATEGIES)


@dataclass(frozen=True, slots=True)
class Pair:
    run: str
    dbms: str
    task: str
    folder: str
    path: str  # relative to the root
    bug_id: int
    sql_id: int
    strategy: str
    reported_is_upper: bool
    original: str
    mutated: str

    def as_dict(self) -> dict[str, object]:
        return {
            "run": self.run, "dbms": self.dbms, "task": self.task, "folder": self.folder, "path": self.path,
            "bug_id": self.bug_id, "sql_id": self.sql_id, "strategy": self.strategy,
            "reported_is_upper": self.reported_is_upper, "original": self.original, "mutated": self.mutated,
        }


@dataclass(frozen=True, slots=True)
class SkippedFile:
    path: str
    reason: str


def _provenance(root: str, relative: str) -> tuple[str, str, str, str]:
    """(run, dbms, task, folder) from the folder names, whether `root` is a run set, a pool or a task."""
    parts = os.path.abspath(os.path.join(root, relative)).split(os.sep)
    return parts[-5], parts[-4], parts[-3], parts[-2]


def iter_pairs(root: str, folders: tuple[str, ...] = ("bugs", "sqlsim")) -> Iterator[Pair | SkippedFile]:
    """Every bug report below `root` in `folders`, in sorted path order, or the reason it was skipped."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no such directory: {root}")
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        name = os.path.basename(directory)
        if name not in folders or not _TASK_DIR.match(os.path.basename(os.path.dirname(directory))):
            continue
        for file_name in sorted(files):
            if not file_name.endswith(".json"):
                continue
            relative = os.path.relpath(os.path.join(directory, file_name), root)
            try:
                named = parse_bug_file_name(file_name)
                with open(os.path.join(directory, file_name), "rb") as handle:
                    report = parse_bug_json(handle.read())
            except (FormatError, OSError) as error:
                yield SkippedFile(relative, str(error))
                continue
            if report.mutation_name not in _KNOWN:
                yield SkippedFile(relative, f"unknown mutation name {report.mutation_name!r}")
                continue
            if (report.bug_id, report.sql_id, report.mutation_name) != (named.bug_id, named.sql_id, named.mutation_name):
                yield SkippedFile(relative, f"file name says {named.key} but the JSON says {report.key}")
                continue
            run, dbms, task, folder = _provenance(root, relative)
            yield Pair(run, dbms, task, folder, relative, report.bug_id, report.sql_id, report.mutation_name,
                       report.is_upper, report.original_sql, report.mutated_sql)
