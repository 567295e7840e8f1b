"""The Makefile's front: a bare `make` lists the targets (one line each) and runs nothing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

USER_TARGETS = [
    "setup", "test", "ingest", "check", "transform", "validate", "server-start", "server-stop", "export", "train",
    "serve", "evaluate", "experiments", "docs", "demo", "sample", "bench-mutations", "bench-generate",
    "bench-ingest", "bench-transform", "bench-export", "bench-validation", "clean",
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
