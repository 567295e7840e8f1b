"""`python -m mutations` as scripts use it: real subprocesses, exact output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL = "SELECT (`a`) AS `f1` FROM (SELECT `pk` AS `a` FROM `table_3_utf8_undef`) AS `t1` WHERE (`a`)>(1) HAVING (`f1`)=(2)"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mutations", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_check_writes_verdicts_passes_keys_through_and_reports_malformed_lines(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    good = {"id": 7, "strategy": "FixMCmpOpU", "original": SQL, "mutated": SQL.replace(")>(", ")>=(")}
    wrong = {"strategy": "FixMWhere1U", "original": SQL, "mutated": SQL.replace("HAVING (`f1`)=(2)", "HAVING 1")}
    lines = [
        json.dumps(good),
        "{not json",
        "",
        json.dumps(wrong),
        json.dumps({"strategy": "FixMCmpOpU", "original": SQL}),
        "[1, 2]",
    ]
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pairs.open("ab") as handle:
        handle.write(b'{"strategy": "FixMCmpOpU", "original": "\xff"}\n')
    output = tmp_path / "verdicts.jsonl"
    result = run("--quiet", "check", "--input", str(pairs), "--output", str(output), "--jobs", "2")
    assert result.returncode == 1
    verdicts = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert verdicts == [
        {**good, "conforms": True, "is_upper": True, "reason": "conforms"},
        {**wrong, "conforms": False, "is_upper": None,
         "reason": "this is a FixMHaving1U mutation, not FixMWhere1U: FixMWhere1U replaces the whole WHERE condition with 1"},
    ]
    stderr = result.stderr.splitlines()
    assert f"{pairs}:2: not valid JSON: Expecting property name enclosed in double quotes (column 2)" in stderr
    assert f"{pairs}:5: missing field(s): mutated" in stderr
    assert f"{pairs}:6: expected a JSON object, got list" in stderr
    assert f"{pairs}:7: invalid UTF-8 at byte 40" in stderr
    assert "FixMCmpOpU          1           1   100.0%" in stderr
    assert "FixMWhere1U         1           0     0.0%" in stderr
    assert "total               2           1    50.0%" in stderr
    assert "4 malformed line(s) in " + str(pairs) + " skipped" in stderr


def test_check_reads_stdin_and_writes_stdout_with_exit_code_zero():
    line = json.dumps({"strategy": "FixMHaving0L", "original": SQL, "mutated": SQL.replace("(`f1`)=(2)", "0")})
    result = run("--quiet", "check", "--input", "-", stdin=line + "\n")
    assert result.returncode == 0
    assert json.loads(result.stdout) == {**json.loads(line), "conforms": True, "is_upper": False, "reason": "conforms"}


def test_apply_prints_one_json_line_per_candidate():
    result = run("apply", "--strategy", "FixMDistinctL", "--sql", SQL)
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["mutated"] for record in records] == [
        SQL.replace("(SELECT `pk`", "(SELECT DISTINCT `pk`"),
        "SELECT DISTINCT" + SQL[len("SELECT"):],
    ]
    assert [(r["strategy"], r["is_upper"], r["node"], r["start"], r["end"]) for r in records] == [
        ("FixMDistinctL", False, "SELECT", 33, 33),
        ("FixMDistinctL", False, "SELECT", 6, 6),
    ]


def test_apply_reports_bad_sql_and_unknown_strategy():
    result = run("apply", "--strategy", "FixMWhere1U", "--sql", "DELETE FROM t")
    assert result.returncode == 2  # the user's input is not a SELECT we can read: an input error
    assert result.stderr == ("error: not a SELECT statement: expected SELECT, WITH or '(' near 'DELETE' at line 1, "
                             "column 1 (char 0): …DELETE FROM t…\n")
    result = run("apply", "--strategy", "FixMNope", "--sql", SQL)
    assert result.returncode == 2 and "invalid choice" not in result.stdout


def test_candidates_lists_every_point_and_help_works():
    result = run("candidates", "--sql", SQL)
    strategies = [json.loads(line)["strategy"] for line in result.stdout.splitlines()]
    # discovery order: FROM (the derived SELECT), WHERE, HAVING, then the outer SELECT's own points
    assert strategies == ["FixMDistinctL", "FixMCmpOpU", "FixMCmpOpU", "FixMDistinctL", "FixMWhere1U",
                          "FixMWhere0L", "FixMHaving1U", "FixMHaving0L"]
    assert run("--help").returncode == 0
    assert "conforms, is_upper and reason" in " ".join(run("check", "--help").stdout.split())


def test_global_options_either_side_jobs_refuses_zero_and_generate_moved_to_the_simulator(tmp_path):
    line = json.dumps({"strategy": "FixMHaving0L", "original": SQL, "mutated": SQL.replace("(`f1`)=(2)", "0")})
    after = run("check", "--input", "-", "--quiet", "-j", "1", stdin=line + "\n")
    assert (after.returncode, json.loads(after.stdout)["conforms"]) == (0, True)
    assert "FixMHaving0L" in after.stderr  # the summary table is the result, not chatter: --quiet keeps it
    zero = run("check", "--input", "-", "--jobs", "0", stdin=line + "\n")
    assert zero.returncode == 2 and zero.stderr.endswith("argument --jobs/-j: must be at least 1, not 0\n")
    moved = run("generate", "--root", str(tmp_path))
    assert moved.returncode == 2 and "invalid choice: 'generate'" in moved.stderr
    assert not any(tmp_path.iterdir())
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("pinoloft ")
    assert "exit codes:" in run("--help").stdout


def test_pairs_strict_is_a_finding_and_an_unknown_folder_a_usage_error(tmp_path):
    task = tmp_path / "mysql" / "task-0" / "bugs"
    task.mkdir(parents=True)
    (task / "bug-0-0-FixMCmpOpU.json").write_text("{truncated", encoding="utf-8")
    strict = run("pairs", "--root", str(tmp_path), "--strict")
    assert (strict.returncode, strict.stdout) == (1, "")
    assert strict.stderr.splitlines()[-1] == "bug files seen: 1 = 0 pairs written + 1 skipped"
    assert run("pairs", "--root", str(tmp_path)).returncode == 0
    unknown = run("pairs", "--root", str(tmp_path), "--folders", "bugs,nope")
    assert (unknown.returncode, unknown.stderr) == (
        2, "error: unknown folder(s) nope; choose from bugs, maystable, unstable, sqlsim\n")
