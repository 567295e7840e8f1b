"""Finding the runs, DBMS pools and tasks below a root, whatever the layout (reference §7).

A root can be a set of runs (`output1..N/<dbms>/task-*`, QTRAN's layout), PINOLO's outputPath
(`<dbms>/task-*`), a single pool (`task-*` directly below) or a single task directory. Names come from the
folders: for `<...>/<run>/<dbms>/task-<id>/…`, `run` is the folder above the pool and `dbms` the pool's
own name, also when those folders lie above the root.

Discovery never follows a symbolic link. What it meets above the pools and cannot use, a symbolic link or
another non-regular file, or a folder it cannot list, becomes an `entries` unit: the worker quarantines it.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass

from mutations.formats import MANIFEST_NAME

from .errors import SourceError

REPORT_FOLDERS = ("bugs", "maystable", "unstable", "sqlsim")
TASK_DIR_RE = re.compile(r"^task-(0|[1-9]\d*)$")
TASK_CONFIG_RE = re.compile(r"^task-(0|[1-9]\d*)-config\.json$")
MAX_DEPTH = 4  # root / runs-parent / run / pool: deeper folders are not searched for pools


@dataclass(frozen=True, slots=True)
class Unit:
    """One directory of work: a task folder, the files at the top of a pool (its result, log, configs), or
    the `entries` of a folder above the pools that discovery could not use (quarantined, never followed)."""

    kind: str  # "task", "pool" or "entries"
    rel: str  # relative to the root, '/'-separated; '' when the unit is the root itself
    run: str | None  # None for `entries`: what they would have been is unknown
    dbms: str | None
    task: str | None
    task_id: int | None
    entries: tuple[str, ...] = ()  # `entries` units only: the names below `rel`

    def path(self, root: str) -> str:
        return os.path.join(root, *self.rel.split("/")) if self.rel else root

    def child(self, name: str) -> str:
        """The relative path of `name` (a '/'-separated path below this unit)."""
        return f"{self.rel}/{name}" if self.rel else name


@dataclass(frozen=True, slots=True)
class Layout:
    root: str  # absolute, normalised
    units: tuple[Unit, ...]  # pools first, then tasks, each in path order, then `entries` units

    @property
    def tasks(self) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.kind == "task")

    @property
    def pools(self) -> tuple[Unit, ...]:
        return tuple(unit for unit in self.units if unit.kind == "pool")


def _is_pool(path: str) -> bool:
    """Whether `path` holds task folders, task configs or a taskpool.log; OSError when it cannot be listed."""
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if TASK_DIR_RE.match(entry.name):
                    return True
            elif entry.name == "taskpool.log" or TASK_CONFIG_RE.match(entry.name):
                return True
    return False


def _subdirectories(path: str, unusable: list[str] | None = None) -> list[str]:
    """The folders in `path` (symbolic links never count as folders); its symbolic links and other
    non-regular files go to `unusable` when given. Hidden names are left out."""
    try:
        with os.scandir(path) as entries:
            folders = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.name)
                elif unusable is not None and not entry.is_file(follow_symlinks=False):
                    unusable.append(entry.name)
            return sorted(folders)
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
    try:
        root_is_pool = _is_pool(absolute)
    except OSError as error:
        raise SourceError(f"cannot read {os.fspath(root)}: {error.strerror or error}") from None
    if TASK_DIR_RE.match(name) and not root_is_pool:
        dbms, run = _names_above(absolute)
        return Layout(absolute, (Unit("task", "", run, dbms, name, int(name[5:])),))

    pools: list[str] = []  # relative paths ('' for the root)
    # Per folder above the pools: the names in it that discovery could not use (quarantined by the loader).
    unusable: dict[str, list[str]] = defaultdict(list)
    frontier = [""]
    for depth in range(MAX_DEPTH):
        following: list[str] = []
        last = depth == MAX_DEPTH - 1  # the children of this level are never searched: nothing to report
        for rel in frontier:
            path = os.path.join(absolute, *rel.split("/")) if rel else absolute
            try:
                is_pool = root_is_pool if not rel else _is_pool(path)
            except FileNotFoundError:
                continue  # gone since its parent was listed
            except OSError:
                parent, _, child = rel.rpartition("/")
                unusable[parent].append(child)
                continue
            if is_pool:
                pools.append(rel)
            else:
                found = None if last else unusable[rel]
                following.extend(f"{rel}/{child}" if rel else child for child in _subdirectories(path, found))
        frontier = following
        if not frontier:
            break
    if not pools:
        blocked = sorted(f"{rel}/{child}" if rel else child for rel, names in unusable.items() for child in names)
        raise SourceError(
            f"no PINOLO task pool or task directory below {os.fspath(root)} (looked for task-<id>/ folders, "
            f"task-<id>-config.json or taskpool.log up to {MAX_DEPTH - 1} levels down"
            + (f"; could not use: {', '.join(blocked)}" if blocked else "") + ")"
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
    entries = [Unit("entries", rel, None, None, None, None, tuple(sorted(names)))
               for rel, names in sorted(unusable.items()) if names]
    return Layout(absolute, tuple(units + tasks + entries))


def is_manifest(name: str) -> bool:
    """The generator's answer key (`pinoloft-faults.json`): not PINOLO output, never ingested nor counted."""
    return name == MANIFEST_NAME
