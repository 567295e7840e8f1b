"""Submission and watching against the local fake service, through the real openai SDK."""

from __future__ import annotations

from datetime import datetime

import pytest

from finetune import (
    FileRejected,
    FinetuneError,
    Hyperparameters,
    JobFailed,
    ServiceRefused,
    Store,
    cancel,
    load_service,
    plan_training,
    submit,
    watch,
)
from finetune.errors import UsageError
from finetune.jobs import JOB_COLUMNS, api_job, job_status, latest_job, list_jobs, refresh_jobs, status_line
from finetune_helpers import make_export


@pytest.fixture
def plan(openai_env, tmp_path):
    exports = make_export(tmp_path / "exports")
    return plan_training("ds", load_service(), exports=exports, suffix="unit",
                         hyperparameters=Hyperparameters.parse(2, 4, None))


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "warehouse.duckdb")


def test_submit_then_watch_stores_everything_the_job_reports(plan, store, openai_env, tmp_path):
    job_id, reused = submit(plan, store, poll_s=0)
    assert reused is False and list(openai_env.jobs) == [job_id]
    created = openai_env.jobs[job_id].request
    assert created["method"] == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": "auto"}}}
    assert (created["suffix"], created["seed"], created["metadata"]) == ("unit", 42, plan.metadata())
    assert sorted(store.query("SELECT split, status FROM finetune.files")) == [("train", "processed"),
                                                                            ("validation", "processed")]

    result = watch(job_id, store, plan.service, poll_s=0, quiet=True, plot_dir=tmp_path / "plots")
    job = openai_env.jobs[job_id]
    # 12 examples / batch 4 = 3 steps per epoch, 2 epochs
    assert (result.status, result.steps, result.total_steps) == ("succeeded", 6, 6)
    assert result.fine_tuned_model == job.fine_tuned_model
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM finetune.job_events") == [
        (len(job.events), len(job.events))]
    assert store.query("SELECT list(step ORDER BY step) FROM finetune.job_metrics") == [([1, 2, 3, 4, 5, 6],)]
    assert store.query("SELECT count(*) FROM finetune.job_results WHERE train_loss IS NOT NULL") == [(6,)]
    assert store.query("SELECT status, fine_tuned_model, n_epochs, batch_size FROM finetune.jobs") == [
        ("succeeded", job.fine_tuned_model, "2", "4")]
    models = store.query("SELECT kind, count(*) FROM finetune.models GROUP BY kind ORDER BY kind")
    assert models == [("checkpoint", result.checkpoints), ("final", 1)] and result.checkpoints > 0
    assert store.query("SELECT step, base_model, dataset_name FROM finetune.models WHERE kind = 'final'") == [
        (6, "gpt-4o-mini-2024-07-18", "ds")]
    assert result.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_second_submission_reuses_the_job(plan, store, openai_env):
    first, _ = submit(plan, store, poll_s=0)
    second, reused = submit(plan, store, poll_s=0)
    assert (second, reused) == (first, True)
    assert len(openai_env.jobs) == 1 and len(openai_env.calls("POST", "/fine_tuning/jobs")) == 1
    assert len(openai_env.calls("POST", "/files")) == 2  # nothing uploaded again either


def test_a_dropped_connection_at_creation_never_makes_a_second_job(plan, store, openai_env):
    openai_env.drop_connection_after("POST", "/fine_tuning/jobs")
    job_id, reused = submit(plan, store, poll_s=0)
    assert list(openai_env.jobs) == [job_id]  # created once, found by its metadata, not created again
    assert len(openai_env.calls("POST", "/fine_tuning/jobs")) == 1
    assert store.query("SELECT job_id FROM finetune.jobs") == [(job_id,)]


def test_rate_limits_and_server_errors_at_creation_are_retried_safely(plan, store, openai_env):
    openai_env.respond(429, times=1, path_contains="/fine_tuning/jobs", method="POST")
    openai_env.respond(503, times=1, path_contains="/fine_tuning/jobs", method="POST")
    job_id, _ = submit(plan, store, poll_s=0)
    assert list(openai_env.jobs) == [job_id]
    # each failed attempt was followed by a lookup before the next creation request
    methods = [call.method for call in openai_env.calls(path_contains="/fine_tuning/jobs")]
    assert methods == ["GET", "POST", "GET", "POST", "GET", "POST"]


def test_watch_resumes_after_an_interruption_with_every_event_once(plan, store, openai_env):
    openai_env.set_ticks(steps_per_tick=1)
    job_id, _ = submit(plan, store, poll_s=0)
    polls = []

    def interrupt(job):
        polls.append(job.status)
        if len(polls) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        watch(job_id, store, plan.service, poll_s=0, quiet=True, on_poll=interrupt)
    partial = store.query("SELECT count(*) FROM finetune.job_metrics")[0][0]
    assert 0 < partial < 6
    openai_env.respond(429, times=2, path_contains="/events", method="GET")  # the SDK retries these reads
    result = watch(job_id, store, plan.service, poll_s=0, quiet=True)
    events = openai_env.jobs[job_id].events
    assert result.status == "succeeded"
    assert store.query("SELECT count(*), count(DISTINCT event_id) FROM finetune.job_events") == [
        (len(events), len(events))]
    assert store.query("SELECT count(*) FROM finetune.job_metrics") == [(6,)]
    snapshots = [row[0] for row in store.query("SELECT status FROM finetune.job_snapshots ORDER BY observed_at")]
    assert snapshots[0] == "validating_files" and snapshots[-1] == "succeeded"


def test_a_failed_job_shows_its_error(plan, store, openai_env):
    openai_env.fail_next_job("invalid_training_file", "Training file has 2 examples with too many tokens", at_step=2)
    job_id, _ = submit(plan, store, poll_s=0)
    with pytest.raises(JobFailed) as raised:
        watch(job_id, store, plan.service, poll_s=0, quiet=True)
    assert str(raised.value) == (f"job {job_id} failed: invalid_training_file: Training file has 2 examples "
                                 "with too many tokens")
    assert store.query("SELECT status, error_code, error_message FROM finetune.jobs") == [
        ("failed", "invalid_training_file", "Training file has 2 examples with too many tokens")]


# The one line a submission refused for OpenAI's wind-down ends with, after "<what>: <status> refused: <message>. "
WIND_DOWN_LINE = (
    "OpenAI's fine-tuning wind-down, as publicly reported (checked 2026-12): 2026-05-07 self-serve fine-tuning closed "
    "to organisations that had never fine-tuned; 2026-07-02 self-serve fine-tuning closed to inactive organisations; "
    "2027-01-06 new fine-tuning jobs end for everyone; 2027-01-14 the gpt-4o-mini-2024-07-18, gpt-4o and "
    "gpt-4.1(-mini) snapshots shut down with all their fine-tunes. Alternatives: Azure OpenAI (same API: set "
    "AZURE_OPENAI_ENDPOINT), BACKEND=local (LoRA on a local model folder), or the exports for other trainers "
    '(make export FORMATS="hf llamafactory axolotl vertex")')


def test_refusals_read_as_one_line(plan, store, openai_env, monkeypatch):
    message = "You are not allowed to perform this request."  # a 403 that does not speak of fine-tuning
    openai_env.respond(403, times=1, path_contains="/fine_tuning/jobs", method="POST",
                       body={"message": message, "code": "permission_denied"})
    with pytest.raises(ServiceRefused) as refused:
        submit(plan, store, poll_s=0)
    assert str(refused.value).startswith("creating the job: 403 refused: You are not allowed to perform this request. "
                                         "OpenAI is winding down")  # the 403 message of before, not the dates
    assert openai_env.jobs == {}
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-0000000000000000")
    with pytest.raises(ServiceRefused) as rejected:
        submit(plan_training("ds", load_service(), exports=plan.train_path.parent.parent), store, poll_s=0)
    assert str(rejected.value).startswith("looking for an existing job: 401 the service rejected the API key")
    assert "sk-wrong-key-0000000000000000" not in str(rejected.value)


def test_an_organisation_closed_to_fine_tuning_gets_the_wind_down_in_one_line(plan, store, openai_env):
    openai_env.close_fine_tuning()
    with pytest.raises(ServiceRefused) as refused:
        submit(plan, store, poll_s=0)
    assert str(refused.value) == ("creating the job: 403 refused: This organization is not allowed to create "
                                  f"fine-tuning jobs. {WIND_DOWN_LINE}")
    assert refused.value.exit_code == 4 and openai_env.jobs == {}


def test_a_snapshot_closed_to_fine_tuning_gets_the_wind_down_in_one_line(monkeypatch, store, tmp_path):
    from fake_openai import BASE_MODELS, FakeOpenAI

    still_open = {name: created for name, created in BASE_MODELS.items() if name != "gpt-4o-mini-2024-07-18"}
    with FakeOpenAI(base_models=still_open) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
        plan = plan_training("ds", load_service(), exports=make_export(tmp_path / "exports"))
        with pytest.raises(ServiceRefused) as refused:
            submit(plan, store, poll_s=0)
        assert fake.jobs == {}
    assert str(refused.value) == ("creating the job: 400 refused: Model gpt-4o-mini-2024-07-18 is not available for "
                                  f"fine-tuning or does not exist. {WIND_DOWN_LINE}")


def test_the_train_command_prints_the_refusal_as_one_line_and_exits_4(monkeypatch, tmp_path, capsys):
    from fake_openai import FakeOpenAI
    from finetune.cli import main

    exports = make_export(tmp_path / "exports")
    with FakeOpenAI(base_models={"gpt-4.1-2025-04-14": 1744315746}) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
        code = main(["--quiet", "--warehouse", str(tmp_path / "w.duckdb"), "train", "--dataset", "ds", "--exports",
                     str(exports), "--submit", "--poll", "0"])
    assert code == 4
    assert capsys.readouterr().err == ("error: creating the job: 400 refused: Model gpt-4o-mini-2024-07-18 is not "
                                       f"available for fine-tuning or does not exist. {WIND_DOWN_LINE}\n")


def test_azure_refusals_do_not_carry_openai_s_dates(azure_openai_env, store, tmp_path):
    azure_openai_env.close_fine_tuning()
    plan = plan_training("ds", load_service(), exports=make_export(tmp_path / "exports"))
    with pytest.raises(ServiceRefused) as refused:
        submit(plan, store, poll_s=0)
    assert str(refused.value).startswith("creating the job: 403 refused: This organization is not allowed to create "
                                         "fine-tuning jobs. OpenAI is winding down")  # today's 403 message
    assert "2027-01-06" not in str(refused.value)


def test_a_file_the_service_rejects_is_reported(openai_env, store, tmp_path):
    exports = make_export(tmp_path / "exports")
    train = exports / "ds" / "train.jsonl"
    train.write_bytes(train.read_bytes() + b'{"messages": "not a list"}\n')
    plan = plan_training("ds", load_service(), exports=exports)
    plan.problems.clear()  # our own check would stop it; here the service's verdict is what is tested
    with pytest.raises(FileRejected, match=r"train.jsonl: the service rejected file file-\w+: "):
        submit(plan, store, poll_s=0)
    assert store.query("SELECT status FROM finetune.files") == [("error",)]
    assert openai_env.jobs == {}


def test_a_base64_result_file_as_openai_serves_it_is_parsed(monkeypatch, tmp_path):
    from fake_openai import FakeOpenAI

    with FakeOpenAI(result_files_base64=True) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
        exports = make_export(tmp_path / "exports")
        plan = plan_training("ds", load_service(), exports=exports, hyperparameters=Hyperparameters.parse(1, 3, None))
        store = Store(tmp_path / "warehouse.duckdb")
        job_id, _ = submit(plan, store, poll_s=0)
        result = watch(job_id, store, plan.service, poll_s=0, quiet=True)
        assert (result.status, result.result_rows) == ("succeeded", 4)  # 12 examples / batch 3, 1 epoch
        rows = store.query("SELECT step, train_loss IS NOT NULL, valid_loss IS NOT NULL FROM finetune.job_results "
                           "ORDER BY step")
        assert rows == [(1, True, False), (2, True, True), (3, True, False), (4, True, True)]


# -- what the CLI's job commands call: the job to watch, the listing, status, refresh, local jobs declined ----


def _job_row(job_id: str, status: str, created: str, endpoint: str = "https://api.example/v1") -> dict:
    return {"job_id": job_id, "endpoint": endpoint, "dataset_name": "ds", "model": "gpt-4o-mini-2024-07-18",
            "n_epochs": "2", "status": status, "created_at": datetime.fromisoformat(created)}


def test_latest_job_is_the_newest_unfinished_api_job(store):
    with pytest.raises(FinetuneError, match="^no job in the warehouse yet: name one"):
        latest_job(store)
    with store.transaction() as con:
        for row in (_job_row("ftjob-old", "succeeded", "2024-01-01 10:00"),
                    _job_row("ftjob-running", "running", "2024-01-02 10:00"),
                    _job_row("ftjob-done", "failed", "2024-01-03 10:00"),
                    _job_row("local-0123456789ab", "running", "2024-01-04 10:00", endpoint="local")):
            Store.upsert(con, "jobs", row)
    assert latest_job(store) == "ftjob-running"  # unfinished first, even when older; never a local job
    with store.transaction() as con:
        con.execute("UPDATE finetune.jobs SET status = 'succeeded' WHERE job_id = 'ftjob-running'")
    assert latest_job(store) == "ftjob-done"  # all finished: the newest
    assert list_jobs(store, limit=2) == [
        ("local-0123456789ab", "running", "gpt-4o-mini-2024-07-18", "ds", None, "2", None, "2024-01-04 10:00"),
        ("ftjob-done", "failed", "gpt-4o-mini-2024-07-18", "ds", None, "2", None, "2024-01-03 10:00"),
    ]
    assert JOB_COLUMNS[0] == "job" and len(JOB_COLUMNS) == len(list_jobs(store)[0])


def test_api_commands_decline_a_local_job_before_any_request(store, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    service = load_service()  # no key: any request would be a CredentialsError, not the UsageError below
    assert api_job("ftjob-abc") == "ftjob-abc"
    for call in (lambda: watch("local-0123456789ab", store, service, poll_s=0, quiet=True),
                 lambda: cancel("local-0123456789ab", store, service),
                 lambda: job_status("local-0123456789ab", store, service)):
        with pytest.raises(UsageError, match="^local-0123456789ab is a local LoRA job: `train --backend local`"):
            call()


def test_job_status_refresh_and_status_line(plan, store, openai_env, tmp_path):
    job_id, _ = submit(plan, store, poll_s=0)
    watch(job_id, store, plan.service, poll_s=0, quiet=True)
    fake = openai_env.jobs[job_id]
    job = job_status(job_id, store, plan.service)
    assert (job.id, job.status, job.fine_tuned_model) == (job_id, "succeeded", fake.fine_tuned_model)
    assert status_line(job) == (f"{job_id}: succeeded on gpt-4o-mini-2024-07-18 -> {fake.fine_tuned_model}; "
                                f"{job.trained_tokens:,} trained tokens") and job.trained_tokens > 0
    openai_env.fail_next_job("server_error", "The job failed due to an internal error.")
    other = plan_training("ds", plan.service, exports=plan.train_path.parent.parent, suffix="other")  # not reused
    failed_id, _ = submit(other, store, poll_s=0)
    with pytest.raises(JobFailed):
        watch(failed_id, store, plan.service, poll_s=0, quiet=True)
    assert status_line(job_status(failed_id, store, plan.service)) == (
        f"{failed_id}: failed on gpt-4o-mini-2024-07-18; error server_error: The job failed due to an internal error.")
    # a new warehouse learns both jobs from the service
    fresh = Store(tmp_path / "fresh.duckdb")
    assert refresh_jobs(fresh, plan.service, limit=20) == len(openai_env.jobs) == 2
    assert [(row[0], row[1]) for row in list_jobs(fresh)] == [(failed_id, "failed"), (job_id, "succeeded")]
