"""`datasets`: every `datasets/*.yml` validated and loaded into raw.dataset_configs (one row per strategy).

A dataset config (the file stem is its name unless `name:` says otherwise):

    dbms: [mysql, mariadb]     # required: PINOLO targets whose pairs qualify
    strategies: all            # or a list of the 18 names (default: all)
    quota: 40                  # pairs per strategy: an integer >= 0 or "all" (default: all)
    quotas: {FixMOn1U: all}    # optional per-strategy overrides (strategies of this dataset only)
    max_length: 3000           # required: max characters of the user content (the original SQL in `form`)
    form: sqlsim               # sqlsim (default) or raw
    splits: {train: 0.8, validation: 0.1, test: 0.1}   # default 0.8/0.1/0.1; must sum to 1
    seed: 42                   # default 0
    top_up: false              # synthetic top-up for strategies short of their quota (default false)
    require_conforming: true   # default true
    require_executable: false  # default false
    target: mariadb            # DBMS the validation stage runs on (default: none)

Every problem is a DatasetConfigError naming the file and the key. All files are checked before the table
is touched, and the table is replaced in one transaction: either every config loads or none does.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from mutations.formats import KNOWN_DBMS
from mutations.strategies import STRATEGIES
from pinoloft_base.warehouse import ensure_schema, write_transaction

from .errors import DatasetConfigError, IngestError, UnknownDatasetError
from .schema import arrow_schema, columns

KEYS = ("name", "dbms", "strategies", "quota", "quotas", "max_length", "form", "splits", "seed", "top_up",
        "require_conforming", "require_executable", "target")
SPLITS = ("train", "validation", "test")
FORMS = ("sqlsim", "raw")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, slots=True)
class DatasetConfig:
    name: str
    path: str
    dbms: tuple[str, ...]
    strategies: tuple[str, ...]
    quotas: dict[str, int | None]  # None = all
    max_length: int
    form: str
    splits: tuple[float, float, float]
    seed: int
    top_up: bool
    require_conforming: bool
    require_executable: bool
    target: str | None
    config_hash: str


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _quota(path: str, key: str, value: Any) -> int | None:
    if value == "all":
        return None
    if not _is_int(value) or value < 0:
        raise DatasetConfigError(path, key, f'must be an integer >= 0 or "all", got {value!r}')
    return int(value)


def _names(path: str, key: str, value: Any, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(item, str) for item in items):
        raise DatasetConfigError(path, key, f"must be a non-empty list of {what} names")
    for item in items:
        if item not in allowed:
            raise DatasetConfigError(path, key, f"unknown {what} {item!r}; expected one of: {', '.join(allowed)}")
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise DatasetConfigError(path, key, f"{what} listed twice: {', '.join(repeated)}")
    return tuple(items)


def _bool(path: str, data: dict[str, Any], key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise DatasetConfigError(path, key, f"must be true or false, got {value!r}")
    return value


def parse_config(path: str | os.PathLike[str]) -> DatasetConfig:
    """Read and validate one dataset YAML file; DatasetConfigError naming the key that is wrong."""
    path = os.fspath(path)
    raw = Path(path).read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise DatasetConfigError(path, None, f"not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise DatasetConfigError(path, None, "must be a YAML mapping of keys to values")
    for key in data:
        if key not in KEYS:
            raise DatasetConfigError(path, str(key), f"unknown key; expected some of: {', '.join(KEYS)}")

    name = data.get("name", Path(path).stem)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise DatasetConfigError(path, "name", f"must be letters, digits, '_', '.' or '-', got {name!r}")
    if "dbms" not in data:
        raise DatasetConfigError(path, "dbms", "is required (e.g. [mysql, mariadb])")
    dbms = _names(path, "dbms", data["dbms"], KNOWN_DBMS, "DBMS")

    strategies_value = data.get("strategies", "all")
    strategies = STRATEGIES if strategies_value == "all" else _names(path, "strategies", strategies_value,
                                                                      STRATEGIES, "strategy")
    strategies = tuple(name_ for name_ in STRATEGIES if name_ in strategies)  # the reference's order
    default_quota = _quota(path, "quota", data.get("quota", "all"))
    overrides = data.get("quotas", {}) or {}
    if not isinstance(overrides, dict):
        raise DatasetConfigError(path, "quotas", "must be a mapping of strategy names to quotas")
    quotas: dict[str, int | None] = {strategy: default_quota for strategy in strategies}
    for strategy, value in overrides.items():
        if strategy not in STRATEGIES:
            raise DatasetConfigError(path, f"quotas.{strategy}",
                                     f"unknown strategy; expected one of: {', '.join(STRATEGIES)}")
        if strategy not in strategies:
            raise DatasetConfigError(path, f"quotas.{strategy}", "names a strategy this dataset does not include")
        quotas[strategy] = _quota(path, f"quotas.{strategy}", value)

    if "max_length" not in data:
        raise DatasetConfigError(path, "max_length", "is required (max characters of the user content)")
    max_length = data["max_length"]
    if not _is_int(max_length) or max_length < 1:
        raise DatasetConfigError(path, "max_length", f"must be an integer >= 1, got {max_length!r}")
    form = data.get("form", "sqlsim")
    if form not in FORMS:
        raise DatasetConfigError(path, "form", f"must be one of {', '.join(FORMS)}, got {form!r}")

    splits_value = data.get("splits", {"train": 0.8, "validation": 0.1, "test": 0.1})
    if not isinstance(splits_value, dict):
        raise DatasetConfigError(path, "splits", "must be a mapping {train: r, validation: r, test: r}")
    for key in splits_value:
        if key not in SPLITS:
            raise DatasetConfigError(path, f"splits.{key}", f"unknown split; expected {', '.join(SPLITS)}")
    ratios: list[float] = []
    for key in SPLITS:
        value = splits_value.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1 \
                or not math.isfinite(value):
            raise DatasetConfigError(path, f"splits.{key}", f"must be a ratio between 0 and 1, got {value!r}")
        ratios.append(float(value))
    if not math.isclose(sum(ratios), 1.0, abs_tol=1e-9):
        raise DatasetConfigError(path, "splits", f"ratios must sum to 1, they sum to {sum(ratios):g}")

    seed = data.get("seed", 0)
    if not _is_int(seed):
        raise DatasetConfigError(path, "seed", f"must be an integer, got {seed!r}")
    target = data.get("target")
    if target is not None and target not in KNOWN_DBMS:
        raise DatasetConfigError(path, "target", f"unknown DBMS {target!r}; expected one of: {', '.join(KNOWN_DBMS)}")
    return DatasetConfig(
        name=name, path=path, dbms=dbms, strategies=strategies, quotas=quotas, max_length=int(max_length),
        form=form, splits=(ratios[0], ratios[1], ratios[2]), seed=int(seed),
        top_up=_bool(path, data, "top_up", False), require_conforming=_bool(path, data, "require_conforming", True),
        require_executable=_bool(path, data, "require_executable", False), target=target,
        config_hash=hashlib.sha256(raw).hexdigest(),
    )


def read_configs(directory: str | os.PathLike[str]) -> list[DatasetConfig]:
    """Every `*.yml`/`*.yaml` of `directory`, validated, in file-name order; names must be unique."""
    folder = Path(directory)
    if not folder.is_dir():
        raise IngestError(f"no dataset folder {os.fspath(directory)}")
    configs = [parse_config(path) for path in sorted(folder.iterdir())
               if path.suffix in (".yml", ".yaml") and path.is_file()]
    seen: dict[str, str] = {}
    for config in configs:
        if config.name in seen:
            raise DatasetConfigError(config.path, "name",
                                     f"dataset {config.name!r} is also defined in {seen[config.name]}")
        seen[config.name] = config.path
    return configs


def require_dataset(directory: str | os.PathLike[str], name: str) -> DatasetConfig:
    """The config named `name` in `directory` (all of them validated); UnknownDatasetError naming the known
    ones when none is. Reads no warehouse: callers check a name before any step that would write."""
    configs = read_configs(directory)
    for config in configs:
        if config.name == name:
            return config
    known = ", ".join(sorted(config.name for config in configs)) or "none"
    raise UnknownDatasetError(f"unknown dataset {name!r}: the configs in {os.fspath(directory)} define {known}")


def load_datasets(warehouse: str | os.PathLike[str], directory: str | os.PathLike[str] = "datasets") -> list[str]:
    """Validate every dataset config, then replace raw.dataset_configs with them; returns the names."""
    configs = read_configs(directory)
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    rows: list[dict[str, Any]] = []
    for config in configs:
        for strategy in config.strategies:
            rows.append({
                "dataset_name": config.name, "strategy": strategy, "dbms": list(config.dbms),
                "quota": config.quotas[strategy], "max_length": config.max_length, "form": config.form,
                "train_ratio": config.splits[0], "validation_ratio": config.splits[1],
                "test_ratio": config.splits[2], "seed": config.seed, "top_up": config.top_up,
                "require_conforming": config.require_conforming, "require_executable": config.require_executable,
                "target": config.target, "config_hash": config.config_hash, "loaded_at": loaded_at,
            })
    table = pa.Table.from_pylist(rows, schema=arrow_schema("dataset_configs", columns("dataset_configs")))
    with write_transaction(warehouse) as con:
        ensure_schema(con, "raw")
        con.execute("DELETE FROM raw.dataset_configs")
        con.register("dataset_rows", table)
        con.execute("INSERT INTO raw.dataset_configs BY NAME SELECT * FROM dataset_rows")
        con.unregister("dataset_rows")
    return [config.name for config in configs]
