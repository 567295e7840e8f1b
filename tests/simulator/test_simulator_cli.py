"""`python -m simulator generate` as scripts and the Makefile use it: real subprocesses, real trees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mutations import STRATEGIES
from mutations.formats import MANIFEST_NAME, parse_pool_result
from simulator.generator import generate

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generate_writes_the_tree_the_library_writes_and_says_what_it_wrote(tmp_path):
    result = run("--quiet", "generate", "--root", str(tmp_path / "cli"), "--dbms", "mysql,mariadb", "--tasks", "2",
                 "--queries", "5", "--seed", "9", "--mix", "FixMDistinctL=1,FixMOn1U=1", "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("generated 4 tasks (2 dbms x 1 runs), 20 queries (")
    assert " report files in " in result.stderr and result.stderr.rstrip().endswith(f"under {tmp_path / 'cli'}")
    summary = generate(tmp_path / "library", dbms=("mysql", "mariadb"), tasks=2, queries=5, seed=9,
                       mix="FixMDistinctL=1,FixMOn1U=1", quiet=True, workers=1)
    assert tree_bytes(tmp_path / "cli") == tree_bytes(tmp_path / "library")  # whatever --jobs
    pool = parse_pool_result((tmp_path / "cli" / "mysql" / "result.json").read_bytes())
    assert (pool.total_task_num, pool.finished_task_num) == (2, 2)
    assert f"{summary.report_files} report files" in result.stderr


def test_global_options_work_after_the_subcommand_and_faults_write_the_manifest(tmp_path):
    result = run("generate", "--root", str(tmp_path), "--tasks", "3", "--queries", "12", "--seed", "20261124",
                 "--faults", "0.05", "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest["seed"] == 20261124 and manifest["entries"]
    assert "; faults: " in result.stderr


def test_bad_arguments_are_usage_errors_with_one_line(tmp_path):
    bad_mix = run("-q", "generate", "--root", str(tmp_path / "bad"), "--tasks", "1", "--mix", "Nope=1")
    assert bad_mix.returncode == 2
    assert bad_mix.stderr == f"error: --mix names unknown strategy 'Nope'; expected one of: {', '.join(STRATEGIES)}\n"
    assert not (tmp_path / "bad").exists()
    bad_dbms = run("-q", "generate", "--root", str(tmp_path / "bad"), "--dbms", "My SQL")
    assert (bad_dbms.returncode, bad_dbms.stderr) == (
        2, "error: dbms name 'My SQL' must be lowercase letters, digits or '_'\n")
    zero_jobs = run("generate", "--root", str(tmp_path / "bad"), "--jobs", "0")
    assert zero_jobs.returncode == 2 and "--jobs/-j: must be at least 1, not 0" in zero_jobs.stderr
    assert not (tmp_path / "bad").exists()


def test_help_lists_the_exit_codes_and_version_answers():
    help_text = run("generate", "--help")
    assert help_text.returncode == 0
    assert "--jobs N" in help_text.stdout and "--workers" not in help_text.stdout
    assert "exit codes:" in help_text.stdout and "3    the warehouse is in use" in help_text.stdout
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("pinoloft ")
