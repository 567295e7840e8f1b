"""Shared fixtures: small generated PINOLO trees (built once per session, copied when a test changes them)
(helpers live in ingest_helpers.py)."""

from __future__ import annotations

import json
import shutil

import pytest

from mutations.formats import MANIFEST_NAME
from simulator.generator import generate

FAULTY = {"dbms": ("mysql", "mariadb"), "runs": 2, "tasks": 3, "queries": 12, "seed": 20261124, "faults": 0.05,
          "quiet": True}
CLEAN = {"dbms": ("mysql",), "runs": 1, "tasks": 3, "queries": 15, "seed": 7, "quiet": True}


@pytest.fixture(scope="session")
def faulty_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("faulty") / "pinolo"
    summary = generate(root, **FAULTY)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    return root, summary, manifest


@pytest.fixture(scope="session")
def clean_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean") / "output"
    summary = generate(root, **CLEAN)
    return root, summary


@pytest.fixture
def faulty_tree(faulty_source, tmp_path):
    root, summary, manifest = faulty_source
    copy = tmp_path / "pinolo"
    shutil.copytree(root, copy)
    return copy, summary, manifest


@pytest.fixture
def clean_tree(clean_source, tmp_path):
    root, summary = clean_source
    copy = tmp_path / "output"
    shutil.copytree(root, copy)
    return copy, summary
