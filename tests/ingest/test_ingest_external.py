"""`ingest pairs`: pairs from outside PINOLO (examples/external-pairs.jsonl) into raw.external_pairs, with
their verdicts, the quarantine of what no strategy explains, and a reload that replaces the file's rows."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from ingest_helpers import rows, scalar

from ingest.cli import main
from ingest.errors import IngestError, SourceError
from ingest.external import load_external_pairs
from mutations.fingerprint import pair_hash

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "external-pairs.jsonl"
CMP_OP = ("`<` became `>=` at char 27, which FixMCmpOpU never does: it turns `=` into `>=`, `<` into `<=` and `>` "
          "into `>=`")
QUARANTINED = [
    ("external-pairs.jsonl:6", "mysql", "no strategy turns one query into the other (in either direction)"),
    ("external-pairs.jsonl:7", "oceanbase", f"not a FixMCmpOpU mutation: {CMP_OP}"),
]
# line, strategy, is_upper, is_reversed, strategy_given, identified, dbms, original, mutated
STORED = [
    (1, "FixMCmpOpU", True, False, True, ["FixMCmpOpU"], "mysql",
     "select c0 from t0 where c0 > 5", "select c0 from t0 where c0 >= 5"),
    (2, "FixMWhere0L", False, False, False, ["FixMWhere0L"], "mariadb",
     "select c1 from t1 where c1 in (1, 2)", "select c1 from t1 where 0"),
    (3, "FixMDistinctL", False, True, True, ["FixMDistinctL (reversed)"], "tidb",
     "select t0.c0 from t0 join t1 on t0.c0 = t1.c1", "select distinct t0.c0 from t0 join t1 on t0.c0 = t1.c1"),
    (4, "RdMLikeL", False, False, True, ["RdMLikeL"], "mysql",
     "select c0 from t0 where 'abc' like 'a%c'", "select c0 from t0 where 'abc' like 'a_c'"),
    (8, "FixMHaving1U", True, True, False, ["FixMHaving1U (reversed)"], "mariadb",
     "select c0 from t1 group by c0 having sum(c0) > 2", "select c0 from t1 group by c0 having 1"),
]


@pytest.fixture
def example(tmp_path):
    copy = tmp_path / "external-pairs.jsonl"
    shutil.copyfile(EXAMPLE, copy)
    return copy


def _stored(warehouse):
    return [tuple(row) for row in rows(
        warehouse, "SELECT line_number, strategy, is_upper, is_reversed, strategy_given, identified, dbms, "
        "original_sql, mutated_sql FROM raw.external_pairs ORDER BY line_number")]


def test_the_example_file_loads_with_exact_counts_reasons_and_provenance(example, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    report = load_external_pairs(warehouse, example, "pinolo-bugs")
    assert (report.lines, report.stored, report.quarantined, report.duplicates, report.reversed) == (8, 5, 2, 1, 2)
    assert report.reconciliation == ("lines 8 = stored 5 + quarantined 2 + duplicates 1; 2 stored the right way "
                                     "round (written backwards)")
    assert report.reasons == [(6, QUARANTINED[0][2]), (7, QUARANTINED[1][2])]
    assert _stored(warehouse) == STORED
    digest = hashlib.sha256(example.read_bytes()).hexdigest()
    assert rows(warehouse, "SELECT DISTINCT source, source_file, file_hash, ingest_run_id FROM raw.external_pairs") \
        == [("pinolo-bugs", str(example.resolve()), digest, 1)]
    assert rows(warehouse, "SELECT ddl, url FROM raw.external_pairs WHERE line_number = 1") == [
        ("create table t0 (c0 int);", "https://example.org/bugs/1")]
    assert rows(warehouse, "SELECT count(*) FROM raw.external_pairs WHERE pair_hash = ?",
                [pair_hash("FixMCmpOpU", STORED[0][7], STORED[0][8])]) == [(1,)]
    assert rows(warehouse, "SELECT relative_path, dbms, reason, file_kind, source_root, file_hash "
                "FROM raw.ingest_quarantine ORDER BY relative_path") == [
        (path, dbms, reason, "external_pair", str(example.resolve()), digest) for path, dbms, reason in QUARANTINED]
    # every stored pair has its verdict (the right way round: all conform)
    assert rows(warehouse, "SELECT count(*), count(*) FILTER (WHERE v.conforms) FROM raw.external_pairs e "
                "JOIN raw.mutation_verdicts v USING (pair_hash)") == [(5, 5)]
    assert rows(warehouse, "SELECT ingest_run_id, source_root, reconciliation FROM raw.ingest_runs") == [
        (1, str(example.resolve()), report.reconciliation)]


def test_loading_the_same_file_again_replaces_its_rows(example, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    load_external_pairs(warehouse, example, "pinolo-bugs")
    again = load_external_pairs(warehouse, example, "pinolo-bugs")
    assert (again.ingest_run_id, again.stored, again.quarantined, again.replaced) == (2, 5, 2, 7)
    assert _stored(warehouse) == STORED
    assert scalar(warehouse, "SELECT count(*) FROM raw.ingest_quarantine") == 2
    assert scalar(warehouse, "SELECT count(*) FROM raw.mutation_verdicts") == 5  # kept, not judged twice
    assert rows(warehouse, "SELECT DISTINCT ingest_run_id FROM raw.external_pairs") == [(2,)]
    # an edited file: its rows are replaced by the new content (here: only its first line)
    example.write_text(EXAMPLE.read_text().splitlines()[0] + "\n")
    edited = load_external_pairs(warehouse, example, "pinolo-bugs")
    assert (edited.lines, edited.stored, edited.quarantined, edited.replaced) == (1, 1, 0, 7)
    assert [row[0] for row in _stored(warehouse)] == [1]
    assert scalar(warehouse, "SELECT count(*) FROM raw.ingest_quarantine") == 0


def test_malformed_lines_unknown_names_and_blank_lines(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    good = {"original": "select a from t where a > 1", "mutated": "select a from t where a >= 1"}
    pairs.write_text("\n".join([
        "not json",
        json.dumps({"original": "select 1"}),
        json.dumps({**good, "strategy": "FixMNothing"}),
        json.dumps({**good, "dbms": "postgres"}),
        "",
        json.dumps({**good, "extra": "ignored"}),
    ]) + "\n")
    warehouse = tmp_path / "w.duckdb"
    report = load_external_pairs(warehouse, pairs, "paper", default_dbms="mariadb")
    assert (report.lines, report.stored, report.quarantined, report.duplicates) == (5, 1, 4, 0)
    assert [line for line, _ in report.reasons] == [1, 2, 3, 4]
    assert report.reasons[1:] == [
        (2, "missing field(s): mutated"),
        (3, "unknown strategy 'FixMNothing' (expected one of PINOLO's 18, e.g. FixMDistinctL)"),
        (4, "unknown dbms 'postgres' (expected one of mysql, mariadb, tidb, oceanbase)"),
    ]
    assert report.reasons[0][1].startswith("not valid JSON")
    assert rows(warehouse, "SELECT line_number, strategy, dbms FROM raw.external_pairs") == [
        (6, "FixMCmpOpU", "mariadb")]


def test_bad_arguments_raise(tmp_path, example):
    with pytest.raises(SourceError, match="no such file"):
        load_external_pairs(tmp_path / "w.duckdb", tmp_path / "missing.jsonl", "x")
    with pytest.raises(IngestError, match="'pinolo' is the name"):
        load_external_pairs(tmp_path / "w.duckdb", example, "pinolo")
    with pytest.raises(IngestError, match="--source must name"):
        load_external_pairs(tmp_path / "w.duckdb", example, " ")


def test_cli_prints_the_reconciliation_and_exits_0(example, tmp_path, capsys):
    warehouse = tmp_path / "w.duckdb"
    assert main(["--warehouse", str(warehouse), "pairs", "--input", str(example), "--source", "pinolo-bugs"]) == 0
    err = capsys.readouterr().err
    assert "lines 8 = stored 5 + quarantined 2 + duplicates 1" in err
    assert f"line 7: quarantined: not a FixMCmpOpU mutation: {CMP_OP}" in err
    assert main(["--warehouse", str(warehouse), "pairs", "--input", str(tmp_path / "none.jsonl"),
                 "--source", "x"]) == 2
