"""Which pairs a run executes, read from the marts: a dataset's candidates, every dataset's, or all pairs.

Each pair runs in its raw form and, when it has one, its sqlsim form, on the database built from its own
task's `output.data.sql` (the representative report's task; a synthetic pair's is the report it was derived
from). A task without a readable data SQL falls back to the §9.3 file every PINOLO task writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

from mutations.formats import OUTPUT_DATA_SQL

from .errors import WarehouseError

__all__ = ["REFERENCE_DATA_SQL", "REFERENCE_DATA_SQL_HASH", "Scope", "ScopedPair", "read_scope"]

REFERENCE_DATA_SQL = OUTPUT_DATA_SQL.decode("utf-8")
REFERENCE_DATA_SQL_HASH = hashlib.sha256(OUTPUT_DATA_SQL).hexdigest()


@dataclass(frozen=True, slots=True)
class Scope:
    """`dataset` names one dataset; `all_pairs` takes every deduplicated pair; neither: every dataset."""

    dataset: str | None = None
    all_pairs: bool = False

    def describe(self) -> str:
        if self.all_pairs:
            return "all"
        return f"dataset:{self.dataset}" if self.dataset else "datasets"


@dataclass(frozen=True, slots=True)
class ScopedPair:
    pair_hash: str
    strategy: str
    is_upper: bool
    original_sql: str
    mutated_sql: str
    original_sqlsim: str | None
    mutated_sqlsim: str | None
    data_sql_hash: str
    data_sql_source: str

    def forms(self) -> list[tuple[str, str, str]]:
        """(form, original, mutated) for each form the pair has."""
        forms = [("raw", self.original_sql, self.mutated_sql)]
        if self.original_sqlsim is not None and self.mutated_sqlsim is not None:
            forms.append(("sqlsim", self.original_sqlsim, self.mutated_sqlsim))
        return forms


def _require(con: duckdb.DuckDBPyConnection, schema: str, table: str, hint: str) -> None:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchall()[0][0]
    if not found:
        raise WarehouseError(f"the warehouse has no {schema}.{table}: {hint}")


def read_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> tuple[list[ScopedPair], dict[str, tuple[str, str]]]:
    """The pairs in scope, ordered by pair_hash, and the data SQL texts they need: hash → (text, source)."""
    _require(con, "marts", "pairs", "run `make ingest transform` first")
    _require(con, "raw", "data_sqls", "run `make ingest` first")
    if scope.all_pairs:
        selection = "SELECT pair_id FROM marts.pairs"
        parameters: list = []
    else:
        _require(con, "marts", "dataset_candidates", "run `make transform` first")
        if scope.dataset:
            known = con.execute(
                "SELECT count(*) FROM marts.dataset_candidates WHERE dataset_name = ?", [scope.dataset]
            ).fetchall()[0][0]
            if not known:
                names = [row[0] for row in con.execute(
                    "SELECT DISTINCT dataset_name FROM marts.dataset_candidates ORDER BY 1").fetchall()]
                raise WarehouseError(f"no dataset {scope.dataset!r} in marts.dataset_candidates "
                                     f"(known: {', '.join(names) or 'none'}; run `make transform` after adding it)")
            selection = "SELECT DISTINCT pair_id FROM marts.dataset_candidates WHERE dataset_name = ?"
            parameters = [scope.dataset]
        else:
            selection = "SELECT DISTINCT pair_id FROM marts.dataset_candidates"
            parameters = []
    rows = con.execute(
        f"""
        WITH chosen AS ({selection}),
        task_data AS (
            SELECT source_root, run, dbms, task, min(sha256) AS sha256, min(relative_path) AS relative_path
            FROM raw.data_sqls GROUP BY ALL
        )
        SELECT p.pair_hash, p.strategy, p.is_upper, p.original_sql, p.mutated_sql, p.original_sqlsim,
               p.mutated_sqlsim, d.sha256, d.relative_path
        FROM marts.pairs p
        JOIN chosen USING (pair_id)
        LEFT JOIN task_data d
          ON d.source_root = p.source_root AND d.run = p.run AND d.dbms = p.dbms AND d.task = p.task
        ORDER BY p.pair_hash
        """,
        parameters,
    ).fetchall()
    needed = sorted({row[7] for row in rows if row[7] is not None})
    texts: dict[str, tuple[str, str]] = {}
    if needed:
        for sha256, content, path in con.execute(
            "SELECT sha256, min(content), min(relative_path) FROM raw.data_sqls WHERE sha256 IN "
            "(SELECT unnest(?)) GROUP BY sha256",
            [needed],
        ).fetchall():
            texts[sha256] = (content, path)
    pairs: list[ScopedPair] = []
    for pair_hash, strategy, is_upper, original, mutated, original_sim, mutated_sim, sha256, path in rows:
        if sha256 is None:
            sha256, path = REFERENCE_DATA_SQL_HASH, "reference §9.3 output.data.sql (the task has none)"
            texts.setdefault(sha256, (REFERENCE_DATA_SQL, path))
        pairs.append(ScopedPair(pair_hash, strategy, bool(is_upper), original, mutated, original_sim, mutated_sim,
                                sha256, path))
    return pairs, texts
