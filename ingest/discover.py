"""Finding the runs, DBMS pools and tasks below a root, whatever the layout (reference §7).

A root can be a set of runs (`output1..N/<dbms>/task-*`, QTRAN's layout), PINOLO's outputPath
(`<dbms>/task-*`), a single pool (`task-*` directly below) or a single task directory. Names come from the
folders: for `<...>/<run>/<dbms>/task-<id>/…`, `run` is the folder above the pool and `dbms` the pool's
own name, also when those folders lie above the root.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from mutations.generator import MANIFEST_NAME

from .errors import SourceError

REPORT_FOLDERS = ("bugs", "maystable", "unstable", "sqlsim")
TASK_DIR_RE = re.compile(r"^task-(0|[1-9]\d*)$")
TASK_CONFIG_RE = re.compile(r"^task-(0|[1-9]\d*)-config\.json$")
MAX_DEPTH = 4  # root / runs-parent / run / pool: deeper folders are not searched for pools


@dataclass(frozen=True, slots=True)
class Unit:
    """One directory of work: a task folder, or the files at the top of a pool (its result, log, configs)."""

    kind: str  # "task" or "pool"
    rel: str  # relative to the root, '/'-separated; '' when the unit is the root itself
    run: str
    dbms: str
    task: str | None
    task_id: int | None

    def path(self, root: str) -> str:
        return os.path.join(root, *self.rel.split("/")) if self.rel else root

    def child(self, name: str) -> str:
        """The relative path of `name` (a '/'-separated path below this unit)."""
        return f"{self.rel}/{name}" if self.rel else name


@dataclass(frozen=True, slots=True)
class Layout:
    root: str  # absolute, normalised
    units: tuple[Unit, ...]  # pools first, then tasks, each in path order

    @property
    def tasks(self) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.kind == "task")

    @property
    def pools(self) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.kind == "pool")


def _is_pool(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if TASK_DIR_RE.match(entry.name):
                        return True
                elif entry.name == "taskpool.log" or TASK_CONFIG_RE.match(entry.name):
                    return True
    except OSError:
        return False
    return False


def _subdirectories(path: str) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return sorted(entry.name for entry in entries
                          if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."))
    except OSError:
        return []


def _names_above(absolute: str) -> tuple[str, str]:
    """(parent folder name, grandparent folder name) of an absolute path."""
    parent = os.path.dirname(absolute)
    return os.path.basename(parent), os.path.basename(os.path.dirname(parent))


def discover(root: str | os.PathLike[str]) -> Layout:
    """Every pool and task below `root`; SourceError if it is not a directory or holds none."""
    absolute = os.path.abspath(os.fspath(root))
    if not os.path.isdir(absolute):
        raise SourceError(f"no such directory: {os.fspath(root)}")
    name = os.path.basename(absolute)
    if TASK_DIR_RE.match(name) and not _is_pool(absolute):
        dbms, run = _names_above(absolute)
        return Layout(absolute, (Unit("task", "", run, dbms, name, int(name[5:])),))

    pools: list[str] = []  # relative paths ('' for the root)
    frontier = [""]
    for _ in range(MAX_DEPTH):
        following: list[str] = []
        for rel in frontier:
            path = os.path.join(absolute, *rel.split("/")) if rel else absolute
            if _is_pool(path):
                pools.append(rel)
            else:
                following.extend(f"{rel}/{child}" if rel else child for child in _subdirectories(path))
        frontier = following
        if not frontier:
            break
    if not pools:
        raise SourceError(
            f"no PINOLO task pool or task directory below {os.fspath(root)} (looked for task-<id>/ folders, "
            f"task-<id>-config.json or taskpool.log up to {MAX_DEPTH - 1} levels down)"
        )
    units: list[Unit] = []
    tasks: list[Unit] = []
    for rel in sorted(pools):
        pool_path = os.path.join(absolute, *rel.split("/")) if rel else absolute
        dbms = os.path.basename(pool_path)
        run = os.path.basename(os.path.dirname(pool_path))
        units.append(Unit("pool", rel, run, dbms, None, None))
        for child in _subdirectories(pool_path):
            if TASK_DIR_RE.match(child):
                tasks.append(Unit("task", f"{rel}/{child}" if rel else child, run, dbms, child, int(child[5:])))
    tasks.sort(key=lambda unit: (unit.rel.rsplit("/", 1)[0] if "/" in unit.rel else "", unit.task_id))
    return Layout(absolute, tuple(units + tasks))


def is_manifest(name: str) -> bool:
    """The generator's answer key (`pinoloft-faults.json`): not PINOLO output, never ingested nor counted."""
    return name == MANIFEST_NAME
