"""`python -m finetune` and `make train` as users run them: dry run, submit, watch, list, status, cancel,
Azure, experiments and the comparison table. The CLIs run in subprocesses against the local fake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fake_openai import chat_jsonl
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
    common = ("--warehouse", str(warehouse))
    train = ("train", "--poll", "0", "--dataset", "ds", "--exports", str(exports))
    dry = finetune(*common, *train, "--epochs", "2", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was sent" in dry.stdout and fake_openai.requests == []
    assert fake_openai.api_key not in dry.stdout + dry.stderr

    submitted = finetune(*common, *train, "--epochs", "2", "--suffix", "cli", "--submit", env=env)
    assert submitted.returncode == 0, submitted.stderr
    (job_id,) = fake_openai.jobs
    job = fake_openai.jobs[job_id]
    assert f"created job {job_id}" in submitted.stdout
    assert f"{job_id}: succeeded; 24 step(s) of 24" in submitted.stdout  # 12 examples, batch 1 (auto), 2 epochs
    assert f"model: {job.fine_tuned_model} (in finetune.models)" in submitted.stdout
    assert (tmp_path.parent / tmp_path.name / "warehouse.duckdb").exists()

    again = finetune(*common, *train, "--epochs", "2", "--suffix", "cli", "--submit", "--no-watch", env=env)
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
    common = ("--warehouse", str(warehouse))
    train = ("train", "--poll", "0", "--dataset", "ds", "--exports", str(exports))
    wrong = finetune(*common, *train, "--submit", env={**env, "OPENAI_API_KEY": "sk-wrong-0000000000000000000"})
    assert wrong.returncode == 4  # the service refused
    assert "401 the service rejected the API key" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "sk-wrong-0000000000000000000" not in wrong.stderr

    fake_openai.fail_next_job("server_error", "The job failed due to an internal error.")
    failed = finetune(*common, *train, "--submit", env=env)
    assert failed.returncode == 1  # a finding: the job ran and failed
    assert "failed: server_error: The job failed due to an internal error." in failed.stderr

    other = finetune(*common, *train, "--epochs", "5", "--submit", "--no-watch", env=env)
    job_id = other.stdout.split("created job ")[1].split()[0]
    cancelled = finetune(*common, "cancel", job_id, env=env)
    assert cancelled.stdout.strip() == f"{job_id}: cancelled"
    no_key = finetune(*common, *train, "--submit", env={})
    assert no_key.returncode == 2  # an input error: the plan cannot be submitted
    assert "cannot submit: no API key (environment variable OPENAI_API_KEY is not set)" in no_key.stderr


def test_azure_openai_by_its_environment_variables(fake_openai, tmp_path):
    exports = make_export(tmp_path / "exports")
    env = {"AZURE_OPENAI_API_KEY": fake_openai.api_key, "AZURE_OPENAI_ENDPOINT": fake_openai.azure_endpoint,
           "OPENAI_API_VERSION": "2024-10-21"}
    result = finetune("--warehouse", str(tmp_path / "w.duckdb"), "train", "--poll", "0", "--dataset", "ds",
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
    common = ("--warehouse", str(warehouse))
    experiments = ("experiments", "--poll", "0", "--dir", str(configs), "--exports", str(exports))
    planned = finetune(*common, *experiments, env=env, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "dry run: 2 experiment(s) planned" in planned.stdout and fake_openai.requests == []
    submitted = finetune(*common, *experiments, "--submit", env=env, cwd=tmp_path)
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


# -- the CLI contract, in process: exit codes by error kind, `jobs`, `--jobs`, options after the subcommand ----


def test_exit_code_of_each_error_kind(openai_env, tmp_path, monkeypatch, capsys):
    """The project's table: 2 usage or input, 4 the service failed or refused, 1 a job that ran and failed."""
    from finetune.cli import main

    monkeypatch.chdir(tmp_path)  # the curves of watched jobs go to data/finetune/plots under the working folder
    exports = make_export(tmp_path / "exports")
    warehouse = str(tmp_path / "warehouse.duckdb")
    train = ["--quiet", "--warehouse", warehouse, "train", "--poll", "0", "--dataset", "ds", "--exports", str(exports)]

    def error_line() -> str:
        return capsys.readouterr().err.strip().splitlines()[-1]

    # bad plan: no export of that dataset
    assert main([*train[:-4], "--dataset", "nope", "--exports", str(exports)]) == 2
    assert error_line() == f"error: no training file {exports / 'nope' / 'train.jsonl'}: export the dataset first " \
                           "(make export DATASET=nope)"
    assert main([*train, "--epochs", "-1"]) == 2
    assert error_line() == "error: epochs must be positive, not '-1'"
    # a service config that holds a key (CredentialsError), given on the subcommand
    config = tmp_path / "service.yml"
    config.write_text("api_key: sk-in-a-file\n")
    assert main([*train, "--service", str(config)]) == 2
    assert error_line() == f"error: {config}: holds an api_key; keep keys out of files and name the variable that " \
                           "holds it with api_key_env"
    # the service refuses the key: 401
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-0000000000000000000")
    assert main([*train, "--submit"]) == 4
    assert "401 the service rejected the API key" in error_line()
    monkeypatch.setenv("OPENAI_API_KEY", openai_env.api_key)
    # the job runs and fails: a finding
    openai_env.fail_next_job("server_error", "The job failed due to an internal error.")
    assert main([*train, "--submit"]) == 1
    (job_id,) = openai_env.jobs
    assert error_line() == f"error: job {job_id} failed: server_error: The job failed due to an internal error."
    # nothing to watch in a new warehouse
    assert main(["--quiet", "--warehouse", str(tmp_path / "empty.duckdb"), "jobs", "watch"]) == 2
    assert error_line() == "error: no job in the warehouse yet: name one, or submit with make train SUBMIT=1"
    # the service fails: 503 on every retry (last: the rule outlasts the SDK's retries)
    openai_env.respond(503, times=10, path_contains="/fine_tuning/jobs/ftjob-", retry_after=0.01)
    assert main(["--quiet", "--warehouse", warehouse, "jobs", "status", "ftjob-abc"]) == 4
    assert error_line().startswith("error: reading job ftjob-abc: 503 from the service after retries")


def test_jobs_list_and_its_flat_name(openai_env, openai_client, tmp_path, capsys):
    """`jobs list --remote` records the service's jobs in a new warehouse; `jobs list` and `list` print them."""
    from finetune.cli import main

    uploaded = openai_client.files.create(file=("train.jsonl", chat_jsonl(12)), purpose="fine-tune")
    openai_client.files.retrieve(uploaded.id)  # the fake processes a file when it is first read back
    job = openai_client.fine_tuning.jobs.create(model="gpt-4o-mini-2024-07-18", training_file=uploaded.id)
    warehouse = str(tmp_path / "warehouse.duckdb")
    assert main(["--warehouse", warehouse, "jobs", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "(none)"
    assert main(["jobs", "list", "--remote", "--limit", "5", "--warehouse", warehouse]) == 0  # global option after
    remote = capsys.readouterr().out.splitlines()
    assert remote[0].split() == ["job", "status", "model", "dataset", "experiment", "epochs", "fine-tuned",
                                 "model", "created", "(UTC)"]
    assert remote[1].split()[:3] == [job.id, "validating_files", "gpt-4o-mini-2024-07-18"]
    assert len(remote) == 2
    assert main(["--warehouse", warehouse, "list"]) == 0
    assert capsys.readouterr().out.splitlines() == remote


def test_evaluate_runs_jobs_requests_at_once(openai_env, tmp_path, monkeypatch, capsys):
    """`--jobs N` (was --concurrency) is how many chat requests are in flight: the first two requests each wait
    for the other, so with --jobs 2 both are answered and no more than two were ever in flight."""
    import threading

    from finetune.cli import build_parser, main
    from finetune_helpers import make_test_split

    exports = tmp_path / "exports"
    examples = make_test_split(exports)
    expected = {example["original"]: example["expected"] for example in examples}
    first_two = threading.Barrier(2, timeout=60)
    lock = threading.Lock()
    seen = {"in_flight": 0, "peak": 0, "started": 0}

    def reply(messages):
        with lock:
            seen["in_flight"] += 1
            seen["started"] += 1
            seen["peak"] = max(seen["peak"], seen["in_flight"])
            first = seen["started"] <= 2
        try:
            if first:
                first_two.wait()  # a broken barrier (only one request in flight) answers 500: counted as errors
            return expected[messages[-1]["content"]]
        finally:
            with lock:
                seen["in_flight"] -= 1

    openai_env.script_chat("good", reply)
    assert build_parser().parse_args(["evaluate", "--dataset", "ds", "--models", "x"]).jobs == 4  # the default
    code = main(["--quiet", "--warehouse", str(tmp_path / "w.duckdb"), "evaluate", "--dataset", "ds", "--models",
                 "good", "--exports", str(exports), "--reports", str(tmp_path / "reports"), "--execute", "no",
                 "--rpm", "0", "--jobs", "2"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "evaluation 1 of ds: 6 test example(s), 6 request(s) sent, 0 answered from the cache"
    assert lines[2].split()[:9] == ["good", "6", "6", "6", "6", "100%", "[61%,", "100%]", "6"]
    assert seen == {"in_flight": 0, "peak": 2, "started": 6}
    assert lines[-1] == f"report: {tmp_path / 'reports' / 'ds' / 'evaluation.html'} and " \
                        f"{tmp_path / 'reports' / 'ds' / 'evaluation.md'}"
