"""Experiments as config, through the library the CLI calls: planning every config, submitting one with its
row in finetune.experiments (a second submission reuses the job), and the comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from finetune import ExperimentError, Store, load_service
from finetune.experiments import COMPARE_COLUMNS, compare_rows, plan_experiments, submit_experiment
from finetune_helpers import make_export


@pytest.fixture
def configs(tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    (folder / "full.yml").write_text("dataset: ds\nepochs: 2\n")
    (folder / "half.yml").write_text("dataset: ds\nfraction: 0.5\nepochs: 2\nsuffix: halved\n")
    return folder


def test_plan_then_submit_an_experiment(openai_env, configs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a fraction's training subset goes to data/finetune/experiments/<name>/
    exports = make_export(tmp_path / "exports", train=20)
    service = load_service()
    planned = plan_experiments(service, configs, exports=exports)
    assert [(experiment.name, plan.train_check.n_valid, plan.suffix) for experiment, plan in planned] == [
        ("full", 20, "full"), ("half", 10, "halved")]
    assert openai_env.requests == []  # planning sends nothing
    ((half, plan),) = plan_experiments(service, configs, ["half"], exports=exports)
    assert plan.train_path == Path("data/finetune/experiments/half/train.jsonl")
    assert len((tmp_path / plan.train_path).read_text().splitlines()) == 10
    with pytest.raises(ExperimentError, match="^no experiment nope in "):
        plan_experiments(service, configs, ["nope"], exports=exports)

    store = Store(tmp_path / "warehouse.duckdb")
    assert compare_rows(store) == []
    job_id, reused = submit_experiment(store, half, plan, poll_s=0)
    assert (reused, list(openai_env.jobs)) == (False, [job_id])
    assert submit_experiment(store, half, plan, poll_s=0) == (job_id, True)
    assert store.query("SELECT experiment, fraction, training_examples, job_id, suffix FROM finetune.experiments") == [
        ("half", 0.5, 10, job_id, "halved")]
    (row,) = compare_rows(store)
    assert len(row) == len(COMPARE_COLUMNS)
    assert row[:8] == ("half", "ds", 0.5, 10, "gpt-4o-mini-2024-07-18", "2", job_id, "validating_files")
