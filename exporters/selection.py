"""What the warehouse says about a dataset besides its examples: quotas, selection, exclusions, settings, sources.

Read on the export's read-only connection. Every table here is optional: a warehouse built without dbt's
`marts.dataset_coverage`, or without `raw.dataset_configs` or `raw.mutation_verdicts` (the exporters'
own test warehouses hold only `marts.dataset_examples`), gives empty answers, and the report, warnings and
card then say only what the examples themselves show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

# Exclusion reasons of marts.dataset_coverage (real pairs left out of the dataset), column -> label.
EXCLUSION_COLUMNS = {
    "excluded_not_conforming": "not conforming",
    "excluded_not_checked": "not checked",
    "excluded_too_long": "too long",
    "excluded_not_executable": "not executable",
}
# The settings of raw.dataset_configs a reader of the card needs, in the order shown.
SETTING_COLUMNS = ("quota", "max_length", "form", "train_ratio", "validation_ratio", "test_ratio", "seed",
                   "top_up", "require_conforming", "require_executable", "target", "dbms", "config_hash")


@dataclass
class StrategySelection:
    """One requested strategy of a dataset, summed over its DBMSs (marts.dataset_coverage)."""

    strategy: str
    quota: int | None  # None: every eligible pair ("all")
    existing: int  # real distinct pairs of the strategy in the warehouse
    real: int  # real examples selected
    synthetic: int  # synthetic examples selected
    missing: int  # quota minus everything selected (0 without a quota)
    excluded: dict[str, int] = field(default_factory=dict)  # reason label -> real pairs left out

    def to_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "quota": self.quota, "existing": self.existing, "real": self.real,
                "synthetic": self.synthetic, "missing": self.missing, "excluded": dict(self.excluded)}


@dataclass
class Selection:
    strategies: list[StrategySelection]  # requested strategies, in name order; empty without the mart
    settings: dict[str, Any]  # the dataset's config (one row per strategy in the raw table; shared values)
    engine_versions: list[str]  # the mutation engines that judged the pairs

    @property
    def requested(self) -> list[str]:
        return [item.strategy for item in self.strategies]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                            "AND table_name = ?", [schema, table]).fetchone()[0])


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {name for (name,) in con.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_schema = ? AND table_name = ?", [schema, table]).fetchall()}


def _coverage(con: duckdb.DuckDBPyConnection, dataset: str) -> list[StrategySelection]:
    if not _has_table(con, "marts", "dataset_coverage"):
        return []
    exclusions = [column for column in EXCLUSION_COLUMNS if column in _columns(con, "marts", "dataset_coverage")]
    sums = "".join(f", sum({column})::BIGINT" for column in exclusions)
    rows = con.execute(
        "SELECT strategy, any_value(quota), sum(existing_pairs)::BIGINT, sum(selected - selected_synthetic)::BIGINT, "
        f"sum(selected_synthetic)::BIGINT, max(strategy_shortfall){sums} FROM marts.dataset_coverage "
        "WHERE dataset_name = ? GROUP BY strategy ORDER BY strategy", [dataset]).fetchall()
    return [StrategySelection(strategy=row[0], quota=row[1], existing=row[2], real=row[3], synthetic=row[4],
                              missing=row[5],
                              excluded={EXCLUSION_COLUMNS[column]: count for column, count in zip(exclusions, row[6:])})
            for row in rows]


def _settings(con: duckdb.DuckDBPyConnection, dataset: str) -> dict[str, Any]:
    if not _has_table(con, "raw", "dataset_configs"):
        return {}
    present = [column for column in SETTING_COLUMNS if column in _columns(con, "raw", "dataset_configs")]
    if not present:
        return {}
    # the latest load of the config only (a reload appends); quota differs per strategy, the rest is shared
    rows = con.execute(
        f"SELECT strategy, {', '.join(present)} FROM raw.dataset_configs WHERE dataset_name = ? AND loaded_at = "
        "(SELECT max(loaded_at) FROM raw.dataset_configs WHERE dataset_name = ?) ORDER BY strategy",
        [dataset, dataset]).fetchall()
    if not rows:
        return {}
    settings: dict[str, Any] = {"strategies": [row[0] for row in rows]}
    for index, column in enumerate(present, start=1):
        values = [row[index] for row in rows]
        settings[column] = values[0] if all(value == values[0] for value in values) else \
            {row[0]: row[index] for row in rows}
    return settings


def _engine_versions(con: duckdb.DuckDBPyConnection) -> list[str]:
    if not _has_table(con, "raw", "mutation_verdicts") or \
            "engine_version" not in _columns(con, "raw", "mutation_verdicts"):
        return []
    return [version for (version,) in con.execute(
        "SELECT DISTINCT engine_version FROM raw.mutation_verdicts WHERE engine_version IS NOT NULL ORDER BY 1"
    ).fetchall()]


def read_selection(con: duckdb.DuckDBPyConnection, dataset: str) -> Selection:
    return Selection(strategies=_coverage(con, dataset), settings=_settings(con, dataset),
                     engine_versions=_engine_versions(con))
