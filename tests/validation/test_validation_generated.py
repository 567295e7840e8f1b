"""The generator's queries run on MariaDB: originals, every mutation the engine derives from them and their
sqlsim forms execute over the §9.3 data, except those calling functions MariaDB lacks, logged as such."""

from __future__ import annotations

from collections import Counter

import pytest

from mutations import apply_candidate, candidates
from mutations.sqlsim import simplify
from simulator.querygen import QueryGenerator
from validation import StatementRunner, load_target
from validation.targets import error_class

from validation_helpers import dbt_build

MARIADB = load_target("mariadb")
KNOWN = "FUNCTION format_bytes does not exist [known: MariaDB has no FORMAT_BYTES]"


def generated_statements(seed: int, queries: int, all_strategies: bool) -> list[str]:
    generator = QueryGenerator(seed, all_strategies=all_strategies)
    statements: list[str] = []
    for _ in range(queries):
        original = generator.query()
        statements.append(original)
        for point in candidates(original):
            mutated = apply_candidate(original, point, seed).sql
            statements += [mutated, *simplify(original, mutated)]
    return statements


@pytest.mark.parametrize(("seed", "all_strategies"), [(11, False), (12, True)])
def test_generated_queries_and_their_mutations_run_except_missing_functions(mariadb, reference_database, seed,
                                                                              all_strategies):
    statements = generated_statements(seed, 120, all_strategies)
    runner = StatementRunner(mariadb.reader(), MARIADB, timeout_s=10.0, row_cap=100_000)
    try:
        outcomes = runner.execute_all([(reference_database, sql) for sql in statements])
    finally:
        runner.close()
    classes = Counter(error_class(o.status, o.error_code, o.error, MARIADB) for o in outcomes)
    assert classes[None] > len(statements) * 0.8  # most run
    assert set(classes) <= {None, KNOWN}, classes
    failing = [sql for sql, outcome in zip(statements, outcomes) if not outcome.ok]
    assert all("FORMAT_BYTES(" in sql for sql in failing)


def test_the_bundled_sample_fails_on_mariadb_only_for_missing_functions(warehouse, mariadb):
    import duckdb

    from validation import RunSettings, Scope, validate

    validate(warehouse, Scope(all_pairs=True), RunSettings(repeats=1), mariadb.reader(), mariadb.admin(), quiet=True)
    dbt_build(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        classes = con.execute("SELECT DISTINCT error_class FROM marts.validation_errors").fetchall()
        statuses = dict(con.execute("SELECT validation_status, count(*) FROM marts.validation_results GROUP BY 1").fetchall())
    assert classes == [(KNOWN,)]
    assert statuses["executable"] > statuses["not executable"] > 0
