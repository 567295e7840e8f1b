"""Reading `marts.dataset_examples` from the DuckDB warehouse, strictly read-only.

The columns we read are those of docs/warehouse.md ("marts (what exporters read)"). The file is opened
read-only (the base floor's `connect(path, read_only=True)`): DuckDB then takes a shared lock, writes
nothing (no WAL, no checkpoint), and several readers may hold it at once; a writer holding the file makes
the open fail with the one warehouse-in-use error instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import duckdb

from .errors import DatasetNotFoundError, WarehouseError

log = logging.getLogger("exporters.warehouse")

TABLE = "marts.dataset_examples"
SPLITS = ("train", "validation", "test")
COLUMNS = (
    "dataset_name", "example_id", "split", "position", "dbms", "strategy", "is_upper", "system_prompt",
    "user_content", "assistant_content", "pair_id", "original_fingerprint", "run", "task", "bug_id", "sql_id",
    "relative_path", "user_length", "assistant_length", "validation_status", "is_synthetic",
)
# Additions the dbt models make beyond the contract's first list (docs/warehouse.md, "Also: ..."): copied into
# the sidecars when the mart has them, NULL otherwise.
OPTIONAL_COLUMNS = ("content_form", "pair_hash", "source_root", "stability", "occurrences", "source")


def check_columns(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """The columns of marts.dataset_examples; WarehouseError unless it exists with every column we need."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
        "AND table_name = 'dataset_examples'"
    ).fetchall()
    if not rows:
        raise WarehouseError(f"{TABLE} does not exist in this warehouse (run `make transform` first)")
    present = {name for (name,) in rows}
    missing = [column for column in COLUMNS if column not in present]
    if missing:
        raise WarehouseError(f"{TABLE} lacks column(s) {', '.join(missing)} of the contract (docs/warehouse.md)")
    return frozenset(present)


def list_datasets(con: duckdb.DuckDBPyConnection) -> list[str]:
    check_columns(con)
    return [name for (name,) in con.execute(f"SELECT DISTINCT dataset_name FROM {TABLE} ORDER BY 1").fetchall()]


def split_counts(con: duckdb.DuckDBPyConnection, dataset: str) -> dict[str, int]:
    """Examples per split of `dataset`; DatasetNotFoundError when it has none, WarehouseError on a bad split."""
    rows = con.execute(f"SELECT split, count(*) FROM {TABLE} WHERE dataset_name = ? GROUP BY split",
                       [dataset]).fetchall()
    if not rows:
        raise DatasetNotFoundError(dataset, list_datasets(con))
    counts = {split: 0 for split in SPLITS}
    for split, count in rows:
        if split not in counts:
            raise WarehouseError(f"dataset {dataset!r} has {count} example(s) with split {split!r}; "
                                 f"expected one of {', '.join(SPLITS)}")
        counts[split] = count
    return counts


def iter_examples(con: duckdb.DuckDBPyConnection, dataset: str, split: str, batch_size: int = 2048,
                  present: frozenset[str] = frozenset()) -> Iterator[list[dict[str, Any]]]:
    """The rows of one split in `position` order (example_id breaks ties), in batches of dicts with the
    contract's columns and the OPTIONAL_COLUMNS (NULL unless in `present`)."""
    names = COLUMNS + OPTIONAL_COLUMNS
    selected = [*COLUMNS, *(name if name in present else f"NULL AS {name}" for name in OPTIONAL_COLUMNS)]
    cursor = con.cursor()
    try:
        cursor.execute(
            f"SELECT {', '.join(selected)} FROM {TABLE} WHERE dataset_name = ? AND split = ? "
            "ORDER BY position, example_id",
            [dataset, split],
        )
        while rows := cursor.fetchmany(batch_size):
            yield [dict(zip(names, row)) for row in rows]
    finally:
        cursor.close()
