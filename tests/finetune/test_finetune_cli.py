"""`python -m finetune` and `make train` as users run them: dry run, submit, watch, list, status, cancel,
Azure, experiments and the comparison table. The CLIs run in subprocesses against the local fake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from finetune_helpers import make_export

ROOT = Path(__file__).resolve().parents[2]


def finetune(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items()
             if not name.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    return subprocess.run([sys.executable, "-m", "finetune", "--quiet", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**clean, **env})


def test_dry_run_then_submit_then_reuse(fake_openai, tmp_path):
    exports = make_export(tmp_path / "exports")
    warehouse = tmp_path / "warehouse.duckdb"
    env = {"OPENAI_API_KEY": fake_openai.api_key, "OPENAI_BASE_URL": fake_openai.base_url}
    common = ("--warehouse", str(warehouse), "--poll", "0")
    dry = finetune(*common, "train", "--dataset", "ds", "--exports", str(exports), "--epochs", "2", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was sent" in dry.stdout and fake_openai.requests == []
    assert fake_openai.api_key not in dry.stdout + dry.stderr

    submitted = finetune(*common, "train", "--dataset", "ds", "--exports", str(exports), "--epochs", "2",
                         "--suffix", "cli", "--submit", env=env)
    assert submitted.returncode == 0, submitted.stderr
    (job_id,) = fake_openai.jobs
    job = fake_openai.jobs[job_id]
    assert f"created job {job_id}" in submitted.stdout
    assert f"{job_id}: succeeded; 24 step(s) of 24" in submitted.stdout  # 12 examples, batch 1 (auto), 2 epochs
    assert f"model: {job.fine_tuned_model} (in finetune.models)" in submitted.stdout
    assert (tmp_path.parent / tmp_path.name / "warehouse.duckdb").exists()

    again = finetune(*common, "train", "--dataset", "ds", "--exports", str(exports), "--epochs", "2",
                     "--suffix", "cli", "--submit", "--no-watch", env=env)
    assert f"reusing job {job_id}" in again.stdout and len(fake_openai.jobs) == 1

    listed = finetune(*common, "list", env=env)
    assert job_id in listed.stdout and "succeeded" in listed.stdout and job.fine_tuned_model in listed.stdout
    status = finetune(*common, "status", job_id, env=env)
    assert status.stdout.startswith(f"{job_id}: succeeded on gpt-4o-mini-2024-07-18 -> {job.fine_tuned_model}")
    plot = finetune(*common, "plot", job_id, "--output", str(tmp_path / "curves.png"), env=env)
    assert plot.returncode == 0 and (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_exit_codes_for_refusals_failures_and_cancel(fake_openai, tmp_path):
    exports = make_export(tmp_path / "exports")
    warehouse = tmp_path / "warehouse.duckdb"
    env = {"OPENAI_API_KEY": fake_openai.api_key, "OPENAI_BASE_URL": fake_openai.base_url}
    common = ("--warehouse", str(warehouse), "--poll", "0")
    wrong = finetune(*common, "train", "--dataset", "ds", "--exports", str(exports), "--submit",
                     env={**env, "OPENAI_API_KEY": "sk-wrong-0000000000000000000"})
    assert wrong.returncode == 3
    assert "401 the service rejected the API key" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "sk-wrong-0000000000000000000" not in wrong.stderr

    fake_openai.fail_next_job("server_error", "The job failed due to an internal error.")
    failed = finetune(*common, "train", "--dataset", "ds", "--exports", str(exports), "--submit", env=env)
    assert failed.returncode == 4
    assert "failed: server_error: The job failed due to an internal error." in failed.stderr

    other = finetune(*common, "train", "--dataset", "ds", "--exports", str(exports), "--epochs", "5", "--submit",
                     "--no-watch", env=env)
    job_id = other.stdout.split("created job ")[1].split()[0]
    cancelled = finetune(*common, "cancel", job_id, env=env)
    assert cancelled.stdout.strip() == f"{job_id}: cancelled"
    no_key = finetune(*common, "train", "--dataset", "ds", "--exports", str(exports), "--submit", env={})
    assert no_key.returncode == 1
    assert "cannot submit: no API key (environment variable OPENAI_API_KEY is not set)" in no_key.stderr


def test_azure_openai_by_its_environment_variables(fake_openai, tmp_path):
    exports = make_export(tmp_path / "exports")
    env = {"AZURE_OPENAI_API_KEY": fake_openai.api_key, "AZURE_OPENAI_ENDPOINT": fake_openai.azure_endpoint,
           "OPENAI_API_VERSION": "2024-10-21"}
    result = finetune("--warehouse", str(tmp_path / "w.duckdb"), "--poll", "0", "train", "--dataset", "ds",
                      "--exports", str(exports), "--submit", env=env)
    assert result.returncode == 0, result.stderr
    assert {call.path.split("/")[1] for call in fake_openai.requests} == {"openai"}
    assert all(call.query.get("api-version") == "2024-10-21" for call in fake_openai.requests)
    assert ": succeeded;" in result.stdout


def test_experiments_submit_all_and_compare(fake_openai, tmp_path):
    exports = make_export(tmp_path / "exports", train=20)
    configs = tmp_path / "experiments"
    configs.mkdir()
    (configs / "full.yml").write_text("dataset: ds\nepochs: 2\n")
    (configs / "half.yml").write_text("dataset: ds\nfraction: 0.5\nepochs: 2\n")
    env = {"OPENAI_API_KEY": fake_openai.api_key, "OPENAI_BASE_URL": fake_openai.base_url}
    warehouse = tmp_path / "warehouse.duckdb"
    common = ("--warehouse", str(warehouse), "--poll", "0")
    planned = finetune(*common, "experiments", "--dir", str(configs), "--exports", str(exports), env=env,
                       cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "dry run: 2 experiment(s) planned" in planned.stdout and fake_openai.requests == []
    submitted = finetune(*common, "experiments", "--dir", str(configs), "--exports", str(exports), "--submit",
                         env=env, cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    assert len(fake_openai.jobs) == 2
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT e.experiment, e.training_examples, j.status, j.n_epochs FROM finetune.experiments e "
                           "JOIN finetune.jobs j USING (job_id) ORDER BY 1").fetchall()
    assert rows == [("full", 20, "succeeded", "2"), ("half", 10, "succeeded", "2")]
    header = submitted.stdout.splitlines()[-3]
    assert header.split()[:3] == ["experiment", "dataset", "fraction"]
    assert submitted.stdout.splitlines()[-1].split()[:4] == ["half", "ds", "0.5", "10"]


def test_make_train_is_a_dry_run(tmp_path):
    """From the repository: `make train DATASET=demo` exports the demo dataset if needed and plans the job."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    warehouse = tmp_path / "warehouse.duckdb"
    result = subprocess.run(["make", "--no-print-directory", "train", "DATASET=demo", f"WAREHOUSE={warehouse}",
                             "QUIET=--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=clean)
    assert result.returncode == 0, result.stderr
    assert "dataset demo" in result.stdout
    assert "cannot submit: no API key (environment variable OPENAI_API_KEY is not set)" in result.stdout
    assert "dry run: nothing was sent" in result.stdout


@pytest.mark.parametrize("target", ["train", "evaluate"])
def test_make_with_an_unknown_dataset_fails_at_once_and_never_ingests(target, tmp_path):
    """A typo in DATASET= used to find no export, ingest the bundled sample into the user's own warehouse and
    only then fail. Now it stops before any step, naming the dataset and the known ones."""
    warehouse = tmp_path / "mine.duckdb"
    result = subprocess.run(["make", "--no-print-directory", target, "DATASET=demoo", f"WAREHOUSE={warehouse}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == "error: unknown dataset 'demoo': the configs in datasets define demo"
    assert "ingest" not in result.stdout and not warehouse.exists()


def test_make_evaluate_with_the_api_free_mutators(tmp_path):
    """`make evaluate DATASET=demo MODELS="reference identity"` needs no key and no network, and writes the report."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    warehouse = tmp_path / "warehouse.duckdb"
    report = ROOT / "data" / "reports" / "demo" / "evaluation.html"
    report.unlink(missing_ok=True)
    result = subprocess.run(["make", "--no-print-directory", "evaluate", "DATASET=demo", "MODELS=reference identity",
                             f"WAREHOUSE={warehouse}", "QUIET=--quiet"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600, env=clean)
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = dict(con.execute("SELECT mutator, [examples, exact, conforms, executable] FROM finetune.eval_metrics "
                                "WHERE strategy = '*' AND dbms = '*'").fetchall())
        examples = len((ROOT / "data" / "exports" / "demo" / "test.jsonl").read_text().splitlines())
    assert rows == {"reference": [examples, examples, examples, examples], "identity": [examples, 0, 0, examples]}
    assert "report: data/reports/demo/evaluation.html and data/reports/demo/evaluation.md" in result.stdout
    assert report.read_text().count('id="summary"') == 1


def test_api_commands_decline_local_jobs(tmp_path):
    for command in (("watch", "local-0123456789ab"), ("status", "local-0123456789ab"), ("cancel", "local-0123456789ab")):
        result = finetune("--warehouse", str(tmp_path / "w.duckdb"), *command, env={})
        assert result.returncode == 2, command
        assert "local-0123456789ab is a local LoRA job: `train --backend local` follows it itself" in result.stderr
