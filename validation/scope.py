"""Which pairs a run executes, read from the marts: a dataset's candidates, every dataset's, or all pairs.

Each pair runs in its raw form and, when it has one, its sqlsim form, on the database built from its own
task's `output.data.sql` (the representative report's task; a synthetic pair's is the report it was derived
from). A task without a readable data SQL falls back to the §9.3 file every PINOLO task writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb

from mutations.formats import OUTPUT_DATA_SQL

from .errors import WarehouseError

__all__ = ["REFERENCE_DATA_SQL", "REFERENCE_DATA_SQL_HASH", "Scope", "ScopePlan", "ScopedPair", "plan_scope", "read_scope",
           "scope_work"]

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


def _selection(con: duckdb.DuckDBPyConnection, scope: Scope) -> tuple[str, list]:
    """The query choosing the scope's pair_ids and its parameters, after checking the tables it reads."""
    _require(con, "marts", "pairs", "run `make ingest transform` first")
    _require(con, "raw", "data_sqls", "run `make ingest` first")
    if scope.all_pairs:
        return "SELECT pair_id FROM marts.pairs", []
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
        return "SELECT DISTINCT pair_id FROM marts.dataset_candidates WHERE dataset_name = ?", [scope.dataset]
    return "SELECT DISTINCT pair_id FROM marts.dataset_candidates", []


# The scope's pairs with their task's data SQL (sha256 and path; NULL when the task has none).
_SCOPED = """
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
        """


def _texts(con: duckdb.DuckDBPyConnection, hashes: set[str]) -> dict[str, tuple[str, str]]:
    """hash → (text, source) of the data SQL files with these hashes."""
    needed = sorted(hashes)
    texts: dict[str, tuple[str, str]] = {}
    if needed:
        for sha256, content, path in con.execute(
            "SELECT sha256, min(content), min(relative_path) FROM raw.data_sqls WHERE sha256 IN "
            "(SELECT unnest(?)) GROUP BY sha256",
            [needed],
        ).fetchall():
            texts[sha256] = (content, path)
    return texts


_FALLBACK_SOURCE = "reference §9.3 output.data.sql (the task has none)"


def read_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> tuple[list[ScopedPair], dict[str, tuple[str, str]]]:
    """The pairs in scope, ordered by pair_hash, and the data SQL texts they need: hash → (text, source)."""
    selection, parameters = _selection(con, scope)
    rows = con.execute(_SCOPED.format(selection=selection) + "ORDER BY p.pair_hash\n", parameters).fetchall()
    texts = _texts(con, {row[7] for row in rows if row[7] is not None})
    pairs: list[ScopedPair] = []
    for pair_hash, strategy, is_upper, original, mutated, original_sim, mutated_sim, sha256, path in rows:
        if sha256 is None:
            sha256, path = REFERENCE_DATA_SQL_HASH, _FALLBACK_SOURCE
            texts.setdefault(sha256, (REFERENCE_DATA_SQL, path))
        pairs.append(ScopedPair(pair_hash, strategy, bool(is_upper), original, mutated, original_sim, mutated_sim,
                                sha256, path))
    return pairs, texts


@dataclass(frozen=True, slots=True)
class ScopePlan:
    """What a run must know before its first statement, read without the pairs' texts (`plan_scope`)."""

    planned: int  # pair-forms in scope
    skipped: int  # of them, logged before under the run's target, server version and settings
    todo_hashes: list[str]  # sorted: the data SQL of the pair-forms left to run
    texts: dict[str, tuple[str, str]]  # hash → (text, source), as `read_scope` gives them
    query: str  # the scoped pairs with whether each form was logged before (for `scope_work`)
    parameters: list


# Whether each form of a scoped pair was logged before under (target, server version, settings hash): the one
# definition both `plan_scope`'s counts and `scope_work`'s pair-forms use, so the two always agree. The first
# parameter is False for a fresh run (nothing counts as logged).
_SCOPED_WITH_DONE = """
        WITH scoped AS ({scoped}),
        done AS (
            SELECT DISTINCT pair_hash, form FROM raw.validation_runs
            WHERE ? AND target = ? AND server_version = ? AND settings_hash = ?
        )
        SELECT scoped.*,
               original_sqlsim IS NOT NULL AND mutated_sqlsim IS NOT NULL AS has_sqlsim,
               coalesce(pair_hash IN (SELECT pair_hash FROM done WHERE form = 'raw'), false) AS raw_done,
               coalesce(pair_hash IN (SELECT pair_hash FROM done WHERE form = 'sqlsim'), false) AS sqlsim_done
        FROM scoped
        """


def _done_parameters(done_under: tuple[str, str, str] | None) -> list:
    return [done_under is not None, *(done_under or ("", "", ""))]


def plan_scope(con: duckdb.DuckDBPyConnection, scope: Scope, done_under: tuple[str, str, str] | None,
               on_query: Callable[[str, list], None] | None = None) -> ScopePlan:
    """The counts and data SQL of `read_scope(con, scope)`'s pairs in one aggregate, without reading their
    texts: pair-forms planned, those logged before under `done_under` = (target, server version, settings
    hash) (None: none, a fresh run), the data SQL hashes of the others, and the texts `read_scope` gives.
    `on_query(query, parameters)`, called once the scope is checked and before the aggregate runs, may start
    `scope_work`'s query (the plan's `query` and `parameters`) alongside it."""
    selection, parameters = _selection(con, scope)
    scoped = _SCOPED_WITH_DONE.format(scoped=_SCOPED.format(selection=selection))
    parameters = parameters + _done_parameters(done_under)
    query = f"SELECT * FROM ({scoped}) ORDER BY pair_hash"
    if on_query is not None:
        on_query(query, parameters)
    groups = con.execute(
        f"""
        SELECT sha256,
               count(*) + count(*) FILTER (has_sqlsim),
               count(*) FILTER (raw_done) + count(*) FILTER (has_sqlsim AND sqlsim_done),
               bool_or(NOT raw_done OR (has_sqlsim AND NOT sqlsim_done))
        FROM ({scoped}) GROUP BY sha256
        """,
        parameters,
    ).fetchall()
    texts = _texts(con, {sha256 for sha256, _, _, _ in groups if sha256 is not None})
    if any(sha256 is None for sha256, _, _, _ in groups):
        texts.setdefault(REFERENCE_DATA_SQL_HASH, (REFERENCE_DATA_SQL, _FALLBACK_SOURCE))
    todo = sorted({REFERENCE_DATA_SQL_HASH if sha256 is None else sha256 for sha256, _, _, left in groups if left})
    return ScopePlan(sum(group[1] for group in groups), sum(group[2] for group in groups), todo, texts, query,
                     parameters)


def scope_work(con: duckdb.DuckDBPyConnection, plan: ScopePlan, batch: int = 256
               ) -> Iterator[tuple[ScopedPair, tuple[str, str, str]]]:
    """(pair, (form, original, mutated)) for each pair-form of `read_scope`'s pairs, in its order, that
    `plan` (`plan_scope`) counts as left to run; read `batch` rows at a time, so the first pair-forms are
    there once the query has sorted the scope, not after every pair was read.

    `con` should be a cursor of its own (of the connection `plan` was read from): the query stays open while
    the pair-forms are consumed. (Anything whose `execute(query, parameters)` returns that query's result.)"""
    result = con.execute(plan.query, plan.parameters)
    while rows := result.fetchmany(batch):
        for (pair_hash, strategy, is_upper, original, mutated, original_sim, mutated_sim, sha256, path,
             has_sqlsim, raw_done, sqlsim_done) in rows:
            if sha256 is None:
                sha256, path = REFERENCE_DATA_SQL_HASH, _FALLBACK_SOURCE
            pair = ScopedPair(pair_hash, strategy, bool(is_upper), original, mutated, original_sim, mutated_sim,
                              sha256, path)
            if not raw_done:
                yield pair, ("raw", original, mutated)
            if has_sqlsim and not sqlsim_done:
                yield pair, ("sqlsim", original_sim, mutated_sim)
