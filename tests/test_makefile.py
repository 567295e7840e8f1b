"""The Makefile's front: a bare `make` lists the targets (one line each) and runs nothing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

USER_TARGETS = [
    "setup", "test", "ingest", "check", "transform", "validate", "server-start", "server-stop", "export", "train",
    "serve", "evaluate", "experiments", "docs", "demo", "sample", "bench-mutations", "bench-generate",
    "bench-ingest", "bench-transform", "bench-export", "bench-validation", "bench-pipeline", "clean",
]


def test_a_bare_make_lists_every_user_target_and_runs_nothing():
    bare = subprocess.run(["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    named = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert bare.returncode == 0 and bare.stderr == "" and bare.stdout == named.stdout
    lines = bare.stdout.splitlines()
    assert lines[0].startswith("pinoloft: ") and lines[0].endswith("Start with: make setup, make demo")
    listed = [re.match(r"  make (\S+) +\S", line).group(1) for line in lines[1:]]
    assert listed == USER_TARGETS
    # every listed target is phony (many share a folder's name) and really exists
    phony = re.search(r"^\.PHONY: ((?:.*\\\n)*.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert set(USER_TARGETS) <= set(phony.replace("\\\n", " ").split())
    for target in USER_TARGETS:
        dry = subprocess.run(["make", "-n", "--no-print-directory", target, "DATASET=demo", "MODEL_DIR=x"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert "No rule to make target" not in dry.stderr, target


def test_make_docs_writes_one_page_that_renders_from_disk(tmp_path):
    """`make docs` (`pinoloft docs`) prints the path of dbt's static page (manifest and catalog inside), which a
    browser renders from file:// with no network: the model tree is built by the page's own scripts."""
    import os
    import shutil

    import duckdb

    missing = subprocess.run(["make", "--no-print-directory", "docs", f"WAREHOUSE={tmp_path / 'none.duckdb'}"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[0] == (f"error: no warehouse at {tmp_path / 'none.duckdb'}: run `pinoloft "
                                              "ingest` first (or `make demo`)")
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute((ROOT / "tests" / "dbt" / "raw_schema.sql").read_text())
    made = subprocess.run(["make", "--no-print-directory", "docs", f"WAREHOUSE={warehouse}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    # not on a terminal: dbt was told to write no colour codes
    assert "\x1b[" not in made.stdout + made.stderr
    page = ROOT / "dbt_project" / "target" / "static_index.html"
    assert made.stdout.splitlines()[-1] == f"docs: {page} (one self-contained page: open it in a browser)"
    assert 'title="stg_pinolo__bug_reports"' not in page.read_text()  # only the rendered tree has it
    browser = shutil.which("chromium")
    assert browser, "chromium is not installed (Debian package `chromium`): run `make setup`"
    profile = tmp_path / "profile"
    rendered = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(profile)))
    assert rendered.returncode == 0
    for model in ("stg_pinolo__bug_reports", "dataset_candidates", "validation_results"):
        assert f'title="{model}"' in rendered.stdout


def test_every_stage_goes_through_the_pinoloft_command():
    """The Makefile calls the one front door, with the global options before the subcommand."""
    for target, expected in (("ingest", "ingest --root examples/pinolo-output"), ("check", "check"),
                             ("transform", "transform --datasets-dir datasets"), ("export", "export --dataset demo"),
                             ("docs", "docs"), ("experiments", "experiments")):
        plan = subprocess.run(["make", "-n", "--no-print-directory", target, "DATASET=demo"], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert plan.stdout.splitlines()[-1].rstrip() == f".venv/bin/pinoloft  --warehouse data/warehouse.duckdb {expected}"
    quiet = subprocess.run(["make", "-n", "--no-print-directory", "check", "QUIET=-q", "WAREHOUSE=w.duckdb"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert quiet.stdout == ".venv/bin/pinoloft -q --warehouse w.duckdb check\n"


def test_make_demo_transforms_once_and_rebuilds_only_dbt_after_validating():
    """`make demo` used to run the whole transform twice (once more inside validate): verdicts, dataset configs
    and top-ups cannot change by validating, so `pinoloft validate` rebuilds only dbt to join the new logs."""
    plan = subprocess.run(["make", "-n", "--no-print-directory", "demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert plan.returncode == 0, plan.stderr
    stages = [re.search(r"\.venv/bin/pinoloft .*--warehouse \S+ (\S+)", line).group(1)
              for line in plan.stdout.splitlines() if ".venv/bin/pinoloft " in line]
    # validation runs only where MariaDB is installed (make setup installs it; CI has it)
    assert stages == ["ingest", "transform", "validate", "export"], plan.stdout
