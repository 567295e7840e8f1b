"""Tests of the fake OpenAI fine-tuning server (fake_openai.py), through the real `openai` SDK over HTTP.

They pin the wire behaviour the `finetune` tests rely on: the SDK parses every answer into its typed models, the
job life cycle is deterministic (exact statuses, events, metrics, checkpoints, result file and model names), and
the failure knobs surface as the SDK's own exceptions.
"""
from __future__ import annotations

import base64
import itertools
import json

import openai
import pytest
from fake_openai import (
    RESULT_CSV_HEADER,
    FakeOpenAI,
    chat_jsonl,
    mask_key,
    synthetic_metrics,
)
from openai.types import FileObject, Model
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

NOW = 1_700_000_000  # the fixed clock of the `fake` fixture
MODEL = "gpt-4o-mini-2024-07-18"
AZURE_API_VERSION = "2024-10-21"
SUPERVISED_AUTO = {"type": "supervised", "supervised": {"hyperparameters": {
    "n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"}}}
RESOLVED = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}
# chat_jsonl(10): per example 23 (system) + 38 (user) + 28 (assistant) = 89 characters; 890 in all.
TRAIN_BYTES = chat_jsonl(10)
TOKENS_PER_EPOCH = 223  # ceil(890 / 4)


def file_id(n: int) -> str:
    return f"file-{n:024x}"


def job_id(n: int) -> str:
    return f"ftjob-{n:024x}"


# ----------------------------------------------------------------------------------------------------------------
# Fixtures: a fake with a fixed clock, and SDK clients on it
# ----------------------------------------------------------------------------------------------------------------

@pytest.fixture
def fake_openai():
    """Overrides conftest's: a fixed clock, so every timestamp is exact; and no exception may escape a handler."""
    with FakeOpenAI(clock=lambda: NOW) as server:
        yield server
    assert server.errors == []


# Short names for this file's many tests; the clients are conftest's, on the fixed-clock fake above.
@pytest.fixture
def fake(fake_openai):
    return fake_openai


@pytest.fixture
def client(openai_client):
    return openai_client


@pytest.fixture
def azure(azure_client):
    return azure_client


def upload(sdk, content: bytes = TRAIN_BYTES, name: str = "train.jsonl") -> FileObject:
    """Upload a fine-tune file and retrieve it once (which processes it)."""
    created = sdk.files.create(file=(name, content), purpose="fine-tune")
    return sdk.files.retrieve(created.id)


def create_job(sdk, training_file: str, **kwargs) -> FineTuningJob:
    kwargs.setdefault("method", SUPERVISED_AUTO)
    return sdk.fine_tuning.jobs.create(model=MODEL, training_file=training_file, **kwargs)


def run_to_end(sdk, job: FineTuningJob) -> tuple[FineTuningJob, list[str]]:
    """Retrieve until the job is terminal; (last job, every status seen, the create answer's first)."""
    seen = [job.status]
    for _ in range(1000):
        if job.status in ("succeeded", "failed", "cancelled"):
            return job, seen
        job = sdk.fine_tuning.jobs.retrieve(job.id)
        seen.append(job.status)
    raise AssertionError("job never finished")


# ----------------------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------------------

def test_upload_is_uploaded_then_processed_on_first_retrieve(fake, client):
    created = client.files.create(file=("train.jsonl", TRAIN_BYTES), purpose="fine-tune")
    assert isinstance(created, FileObject)
    assert created.model_dump() == {
        "id": file_id(1), "object": "file", "bytes": len(TRAIN_BYTES), "created_at": NOW,
        "filename": "train.jsonl", "purpose": "fine-tune", "status": "uploaded", "status_details": None,
        "expires_at": None}
    retrieved = client.files.retrieve(created.id)
    assert (retrieved.status, retrieved.status_details) == ("processed", None)
    assert client.files.content(created.id).read() == TRAIN_BYTES
    assert fake.files[created.id].examples == 10
    assert fake.files[created.id].content == TRAIN_BYTES


def test_files_list_filters_by_purpose_and_delete_removes(fake, client):
    train = upload(client)
    other = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    page = client.files.list()
    assert [f.id for f in page.data] == [other.id, train.id]  # newest first
    assert [f.id for f in client.files.list(purpose="fine-tune").data] == [train.id]
    assert [f.id for f in client.files.list(order="asc", limit=1).data] == [train.id]
    deleted = client.files.delete(other.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (other.id, True, "file")
    assert list(fake.files) == [train.id]
    with pytest.raises(openai.NotFoundError) as exc:
        client.files.retrieve(other.id)
    assert exc.value.body == {"message": f"No such File object: {other.id}", "type": "invalid_request_error",
                              "param": "id", "code": None}


@pytest.mark.parametrize(("content", "details"), [
    (b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ho"}]}\nnot json\n',
     "Invalid file format. Line 2 is not valid JSON: Expecting value."),
    (b'{"prompt": "p", "completion": "c"}\n',
     "Invalid file format. Line 1: expected an object with a non-empty 'messages' list."),
    (b'{"messages": [{"role": "user", "content": "hi"}]}\n',
     "Invalid file format. Line 1: the example has no assistant message."),
    (b'{"messages": [{"role": "robot", "content": "hi"}]}\n',
     ("Invalid file format. Line 1, message 0: a message must be an object with a role in "
      "system, developer, user, assistant, tool, function.")),
    (b"\n\n", "Invalid file format. The file contains no examples."),
])
def test_bad_fine_tune_file_goes_to_error(client, content, details):
    created = client.files.create(file=("bad.jsonl", content), purpose="fine-tune")
    assert created.status == "uploaded"
    retrieved = client.files.retrieve(created.id)
    assert (retrieved.status, retrieved.status_details) == ("error", details)
    with pytest.raises(openai.BadRequestError) as exc:
        create_job(client, created.id)
    assert exc.value.code == "invalid_file"
    assert exc.value.param == "training_file"
    assert exc.value.message == f"Error code: 400 - invalid training_file: {created.id} failed validation: {details}"


def test_file_ticks_pace_processing(fake, client):
    fake.set_ticks(files=0)
    assert client.files.create(file=("t.jsonl", TRAIN_BYTES), purpose="fine-tune").status == "processed"
    fake.set_ticks(files=2)
    created = client.files.create(file=("t.jsonl", TRAIN_BYTES), purpose="fine-tune")
    assert [client.files.retrieve(created.id).status for _ in range(3)] == ["uploaded", "processed", "processed"]


def test_upload_rejects_unknown_purpose(client):
    with pytest.raises(openai.BadRequestError) as exc:
        client.files.create(file=("t.jsonl", TRAIN_BYTES), purpose="fine-tuning")  # type: ignore[arg-type]
    assert (exc.value.param, exc.value.code) == ("purpose", "invalid_value")


# ----------------------------------------------------------------------------------------------------------------
# Creating and listing jobs
# ----------------------------------------------------------------------------------------------------------------

def test_create_job_returns_the_documented_object(fake, client):
    train = upload(client)
    job = create_job(client, train.id, suffix="sqlmut", seed=7, metadata={"dataset": "demo", "run": "1"})
    assert isinstance(job, FineTuningJob)
    assert job.model_dump(exclude_none=False) == {
        "object": "fine_tuning.job", "id": job_id(1), "created_at": NOW, "model": MODEL,
        "training_file": train.id, "validation_file": None, "status": "validating_files",
        "fine_tuned_model": None, "finished_at": None, "error": None, "hyperparameters": RESOLVED,
        "method": {"type": "supervised", "dpo": None, "reinforcement": None,
                   "supervised": {"hyperparameters": RESOLVED}},
        "organization_id": "org-pinoloft-test", "result_files": [], "seed": 7, "trained_tokens": None,
        "metadata": {"dataset": "demo", "run": "1"}, "estimated_finish": None, "integrations": None,
        "user_provided_suffix": "sqlmut"}
    state = fake.jobs[job.id]
    assert state.request == {"model": MODEL, "training_file": train.id, "suffix": "sqlmut", "seed": 7,
                             "metadata": {"dataset": "demo", "run": "1"}, "method": SUPERVISED_AUTO}
    assert (state.total_steps, state.epoch_ends, state.checkpoint_steps) == (30, [10, 20, 30], [10, 20, 30])
    assert state.event_messages() == [f"Created fine-tuning job: {job.id}",
                                      f"Validating training file: {train.id}"]


def test_explicit_and_legacy_hyperparameters(client):
    train = upload(client)
    explicit = create_job(client, train.id, method={"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}}})
    assert explicit.hyperparameters.model_dump() == {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 0.5}
    assert explicit.method.supervised.hyperparameters.n_epochs == 2
    legacy = client.fine_tuning.jobs.create(model=MODEL, training_file=train.id, hyperparameters={"n_epochs": 5})
    assert legacy.hyperparameters.model_dump() == {"n_epochs": 5, "batch_size": 1, "learning_rate_multiplier": 1.8}
    assert legacy.method.type == "supervised"
    with pytest.raises(openai.BadRequestError) as exc:
        create_job(client, train.id, method={"type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 0}}})
    assert (exc.value.param, exc.value.code) == ("hyperparameters.n_epochs", "invalid_value")


def test_create_job_validates_its_inputs(fake, client):
    train = upload(client)
    with pytest.raises(openai.BadRequestError) as exc:
        create_job(client, "file-nope")
    assert exc.value.body == {"message": "invalid training_file: file-nope", "type": "invalid_request_error",
                              "param": "training_file", "code": "invalid_file"}
    pending = client.files.create(file=("v.jsonl", TRAIN_BYTES), purpose="fine-tune")  # not retrieved yet
    with pytest.raises(openai.BadRequestError) as exc:
        create_job(client, train.id, validation_file=pending.id)
    assert (exc.value.param, exc.value.code) == ("validation_file", "file_not_ready")
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.create(model="gpt-nope", training_file=train.id)
    assert (exc.value.param, exc.value.code) == ("model", "model_not_available")
    assert fake.jobs == {}


def test_list_jobs_newest_first_with_metadata_filter_and_pagination(fake, client):
    train = upload(client)
    first = create_job(client, train.id, metadata={"dataset": "demo"})
    second = create_job(client, train.id, metadata={"dataset": "other"})
    third = create_job(client, train.id)
    assert [j.id for j in client.fine_tuning.jobs.list().data] == [third.id, second.id, first.id]
    assert [j.id for j in client.fine_tuning.jobs.list(metadata={"dataset": "demo"}).data] == [first.id]
    assert fake.requests[-1].query == {"metadata[dataset]": "demo"}
    assert client.fine_tuning.jobs.list(metadata={"dataset": "none"}).data == []
    assert [j.id for j in client.fine_tuning.jobs.list(extra_query={"metadata": "null"}).data] == [third.id]
    page = client.fine_tuning.jobs.list(limit=2)
    assert ([j.id for j in page.data], page.has_more) == ([third.id, second.id], True)
    assert [j.id for j in client.fine_tuning.jobs.list(limit=1)] == [third.id, second.id, first.id]
    rest = client.fine_tuning.jobs.list(after=second.id)
    assert ([j.id for j in rest.data], rest.has_more) == ([first.id], False)


# ----------------------------------------------------------------------------------------------------------------
# The life cycle of a job
# ----------------------------------------------------------------------------------------------------------------

def test_job_runs_to_success(fake, client):
    train = upload(client)
    job, seen = run_to_end(client, create_job(client, train.id, suffix="sqlmut"))
    # 30 steps (10 examples x 3 epochs / batch 1) at 3 per tick: queued, started, then 10 running ticks
    assert seen == ["validating_files", "queued"] + ["running"] * 10 + ["succeeded"]
    model = "ft:gpt-4o-mini-2024-07-18:pinoloft-test:sqlmut:41cdb3d5"
    assert job.fine_tuned_model == model
    assert (job.finished_at, job.trained_tokens, job.error, job.estimated_finish) == (NOW, 3 * TOKENS_PER_EPOCH,
                                                                                     None, None)
    assert job.result_files == [file_id(2)]
    assert fake.jobs[job.id].status == "succeeded"
    assert fake.jobs[job.id].retrievals == 12
    # once terminal, nothing moves any more
    assert client.fine_tuning.jobs.retrieve(job.id).model_dump() == job.model_dump()


def test_events_newest_first_and_paginated_exactly_once(client):
    train = upload(client)
    job, _ = run_to_end(client, create_job(client, train.id, suffix="sqlmut"))
    events = client.fine_tuning.jobs.list_events(job.id, limit=100)
    assert events.has_more is False
    assert all(isinstance(e, FineTuningJobEvent) for e in events.data)
    messages = [e.message for e in reversed(events.data)]  # oldest first
    steps = [f"Step {s}/30: training loss={synthetic_metrics(s, 30)['train_loss']:.4f}" for s in range(1, 31)]
    assert messages == [
        f"Created fine-tuning job: {job.id}", f"Validating training file: {train.id}",
        "Files validated, moving job to queued state", "Fine-tuning job started",
        *steps[:10], "Checkpoint created at step 10", *steps[10:20], "Checkpoint created at step 20",
        *steps[20:], "Checkpoint created at step 30",
        "New fine-tuned model created", "The job has successfully completed"]
    ids = [e.id for e in events.data]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 39
    # page by hand with after/limit: every event exactly once, in the same order
    paged, after, pages = [], None, 0
    while True:
        page = client.fine_tuning.jobs.list_events(job.id, limit=7, **({"after": after} if after else {}))
        paged += [e.id for e in page.data]
        pages += 1
        if not page.has_more:
            break
        after = page.data[-1].id
    assert (paged, pages) == (ids, 6)
    # and the SDK's auto-pagination does the same
    assert [e.id for e in client.fine_tuning.jobs.list_events(job.id, limit=5)] == ids
    assert client.fine_tuning.jobs.list_events(job.id).data == events.data[:20]  # default limit 20


def test_metrics_events_carry_the_documented_data(client):
    train = upload(client)
    job, _ = run_to_end(client, create_job(client, train.id))
    metrics = [e for e in client.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == list(range(30, 0, -1))
    first = metrics[-1]
    assert (first.level, first.object, first.created_at) == ("info", "fine_tuning.job.event", NOW)
    assert first.data == {"step": 1, "train_loss": 1.909675, "train_mean_token_accuracy": 0.407098,
                          "valid_loss": None, "valid_mean_token_accuracy": None, "total_steps": 30}
    assert metrics[0].data["train_loss"] == 0.199574
    losses = [e.data["train_loss"] for e in reversed(metrics)]
    assert all(a > b for a, b in itertools.pairwise(losses))
    assert {e.type for e in client.fine_tuning.jobs.list_events(job.id, limit=100)} == {"message", "metrics"}


def test_each_running_retrieve_adds_steps_per_tick(fake, client):
    fake.set_ticks(steps_per_tick=7)
    train = upload(client)
    job = create_job(client, train.id)
    client.fine_tuning.jobs.retrieve(job.id)  # queued
    client.fine_tuning.jobs.retrieve(job.id)  # running, no steps yet
    assert fake.jobs[job.id].steps_done == 0
    client.fine_tuning.jobs.retrieve(job.id)
    assert fake.jobs[job.id].steps_done == 7
    newest = client.fine_tuning.jobs.list_events(job.id, limit=1).data[0]
    assert newest.data == {"step": 7, "total_steps": 30, **{k: v for k, v in synthetic_metrics(7, 30).items() if
                                                           k in ("train_loss", "train_mean_token_accuracy")},
                           "valid_loss": None, "valid_mean_token_accuracy": None}
    assert fake.complete(job.id).status == "succeeded"


def test_checkpoints_at_the_last_three_epoch_ends(client):
    train = upload(client)
    job, _ = run_to_end(client, create_job(client, train.id, suffix="sqlmut",
                                           method={"type": "supervised", "supervised": {"hyperparameters": {
                                               "n_epochs": 4, "batch_size": 2}}}))
    # 10 examples / batch 2 = 5 steps per epoch, 4 epochs: 20 steps, epoch ends 5, 10, 15, 20
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id)
    assert all(isinstance(c, FineTuningJobCheckpoint) for c in checkpoints.data)
    assert [c.step_number for c in checkpoints.data] == [20, 15, 10]
    newest = checkpoints.data[0]
    base = "ft:gpt-4o-mini-2024-07-18:pinoloft-test:sqlmut:41cdb3d5"
    values = synthetic_metrics(20, 20)
    assert newest.model_dump() == {
        "object": "fine_tuning.job.checkpoint", "id": "ftckpt-000000000000000000000003", "created_at": NOW,
        "fine_tuned_model_checkpoint": f"{base}:ckpt-step-20", "fine_tuning_job_id": job.id, "step_number": 20,
        "metrics": {"step": 20.0, "train_loss": values["train_loss"],
                    "train_mean_token_accuracy": values["train_mean_token_accuracy"], "valid_loss": None,
                    "valid_mean_token_accuracy": None, "full_valid_loss": None,
                    "full_valid_mean_token_accuracy": None}}
    page = client.fine_tuning.jobs.checkpoints.list(job.id, limit=2)
    assert ([c.step_number for c in page.data], page.has_more) == ([20, 15], True)
    rest = client.fine_tuning.jobs.checkpoints.list(job.id, after=page.data[-1].id)
    assert ([c.step_number for c in rest.data], rest.has_more) == ([10], False)
    assert client.models.retrieve(f"{base}:ckpt-step-15").owned_by == "pinoloft-test"


def test_result_file_is_the_step_metrics_csv(fake, client):
    train = upload(client)
    job, _ = run_to_end(client, create_job(client, train.id))
    result = client.files.retrieve(job.result_files[0])
    csv_text = client.files.content(result.id).text
    assert (result.purpose, result.filename, result.status, result.bytes) == (
        "fine-tune-results", "step_metrics.csv", "processed", len(csv_text.encode()))
    lines = csv_text.splitlines()
    assert lines[0] == RESULT_CSV_HEADER == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    assert lines[1:3] == ["1,1.909675,0.407098,,", "2,1.737462,0.458762,,"]
    assert lines[-1] == "30,0.199574,0.920128,,"
    assert len(lines) == 31 and csv_text.endswith("\n")
    assert [f.id for f in client.files.list(purpose="fine-tune-results")] == [result.id]


def test_validation_file_adds_validation_metrics(client):
    train = upload(client)
    valid = upload(client, chat_jsonl(4, prefix="held-out"), "valid.jsonl")
    job, _ = run_to_end(client, create_job(client, train.id, validation_file=valid.id))
    assert job.validation_file == valid.id
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    assert events[-2].message == f"Validating training file: {train.id} and validation file: {valid.id}"
    by_step = {e.data["step"]: e for e in events if e.type == "metrics"}
    v2 = synthetic_metrics(2, 30)
    assert by_step[1].data["valid_loss"] is None  # validation every 2nd step and at the last
    assert (by_step[2].data["valid_loss"], by_step[2].data["valid_mean_token_accuracy"]) == (
        v2["valid_loss"], v2["valid_mean_token_accuracy"])
    assert by_step[2].message == f"Step 2/30: training loss={v2['train_loss']:.4f}, " \
                                 f"validation loss={v2['valid_loss']:.4f}"
    lines = client.files.content(job.result_files[0]).text.splitlines()
    assert lines[1] == "1,1.909675,0.407098,,"
    assert lines[2] == f"2,{v2['train_loss']},{v2['train_mean_token_accuracy']},{v2['valid_loss']}," \
                       f"{v2['valid_mean_token_accuracy']}"
    final = client.fine_tuning.jobs.checkpoints.list(job.id).data[0].metrics
    v30 = synthetic_metrics(30, 30)
    assert (final.full_valid_loss, final.full_valid_mean_token_accuracy) == (
        v30["full_valid_loss"], v30["full_valid_mean_token_accuracy"])


def test_fine_tuned_model_is_listed_and_retrievable(client):
    train = upload(client)
    job, _ = run_to_end(client, create_job(client, train.id))
    model = client.models.retrieve(job.fine_tuned_model)
    assert isinstance(model, Model)
    assert model.model_dump() == {"id": "ft:gpt-4o-mini-2024-07-18:pinoloft-test::41cdb3d5", "object": "model",
                                  "created": NOW, "owned_by": "pinoloft-test", "shutdown_date": None}
    ids = [m.id for m in client.models.list()]
    assert MODEL in ids and job.fine_tuned_model in ids
    with pytest.raises(openai.NotFoundError) as exc:
        client.models.retrieve("ft:gpt-4o-mini-2024-07-18:pinoloft-test::nothere")
    assert (exc.value.code, exc.value.param) == ("model_not_found", "model")


def test_result_files_base64_like_openai():
    with FakeOpenAI(clock=lambda: NOW, result_files_base64=True) as fake, \
            openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        job, _ = run_to_end(sdk, create_job(sdk, upload(sdk).id))
        raw = sdk.files.content(job.result_files[0]).read()
        assert base64.b64decode(raw).decode().splitlines()[0] == RESULT_CSV_HEADER


# ----------------------------------------------------------------------------------------------------------------
# Cancelling and failing
# ----------------------------------------------------------------------------------------------------------------

def test_cancel_a_running_job(fake, client):
    train = upload(client)
    job = create_job(client, train.id)
    for _ in range(3):
        client.fine_tuning.jobs.retrieve(job.id)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert (cancelled.status, cancelled.fine_tuned_model, cancelled.finished_at) == ("cancelled", None, None)
    assert fake.jobs[job.id].steps_done == 3
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    assert client.fine_tuning.jobs.list_events(job.id, limit=1).data[0].message == "Fine-tuning job cancelled"
    with pytest.raises(openai.BadRequestError) as exc:
        client.fine_tuning.jobs.cancel(job.id)
    assert exc.value.code == "invalid_state"


def test_fail_next_job_sets_the_error(fake, client):
    train = upload(client)
    fake.fail_next_job("server_error", "Internal error while training.", at_step=4)
    failing = create_job(client, train.id)
    healthy = create_job(client, train.id)
    job, seen = run_to_end(client, failing)
    assert seen == ["validating_files", "queued", "running", "running", "failed"]
    assert job.error.model_dump() == {"code": "server_error", "message": "Internal error while training.",
                                      "param": None}
    assert (job.fine_tuned_model, job.result_files, job.trained_tokens) == (None, [], None)
    assert fake.jobs[job.id].steps_done == 4
    newest = client.fine_tuning.jobs.list_events(job.id, limit=1).data[0]
    assert (newest.level, newest.message) == ("error", "Internal error while training.")
    assert run_to_end(client, healthy)[0].status == "succeeded"


def test_too_few_examples_fail_in_validation(client):
    small = upload(client, chat_jsonl(3))
    job, seen = run_to_end(client, create_job(client, small.id))
    assert seen == ["validating_files", "failed"]
    assert job.error.model_dump() == {
        "code": "invalid_training_file", "param": "training_file",
        "message": "The job failed due to an invalid training file. Training file has 3 example(s), but must "
                   "have at least 10 examples"}


def test_unknown_job_is_404(client):
    with pytest.raises(openai.NotFoundError) as exc:
        client.fine_tuning.jobs.retrieve("ftjob-nope")
    assert exc.value.body["message"] == "No such fine-tuning job: ftjob-nope"


# ----------------------------------------------------------------------------------------------------------------
# Authentication and injected errors
# ----------------------------------------------------------------------------------------------------------------

def test_wrong_key_is_401_without_echoing_it(fake):
    wrong = "sk-wrong-0123456789abcdefXYZW"
    with openai.OpenAI(base_url=fake.base_url, api_key=wrong, max_retries=0) as sdk, \
            pytest.raises(openai.AuthenticationError) as exc:
        sdk.models.list()
    assert exc.value.status_code == 401
    assert exc.value.body == {
        "message": "Incorrect API key provided: sk-**********************XYZW. You can find your API key at "
                   "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error", "code": "invalid_api_key", "param": None}
    assert wrong not in str(exc.value) and mask_key(wrong) in str(exc.value)
    with openai.AzureOpenAI(azure_endpoint=fake.azure_endpoint, api_key=wrong, api_version=AZURE_API_VERSION,
                            max_retries=0) as sdk, pytest.raises(openai.AuthenticationError):
        sdk.fine_tuning.jobs.list()
    assert all(r.headers.get("authorization", r.headers.get("api-key")) == "<redacted>" for r in fake.requests)
    assert wrong not in repr(fake.requests) and fake.api_key not in repr(fake.requests)


def test_respond_403_permission_denied(fake, client):
    train = upload(client)
    fake.respond(403, times=1, path_contains="/fine_tuning/jobs", method="POST", body={"error": {
        "message": "This organization is not allowed to create fine-tuning jobs", "type": "invalid_request_error",
        "param": None, "code": "fine_tuning_not_allowed"}})
    with pytest.raises(openai.PermissionDeniedError) as exc:
        create_job(client, train.id)
    assert exc.value.body["message"] == "This organization is not allowed to create fine-tuning jobs"
    assert exc.value.code == "fine_tuning_not_allowed"
    assert fake.jobs == {}
    assert create_job(client, train.id).status == "validating_files"  # `times` used up


def test_respond_429_raises_then_sdk_retries_through_it(fake):
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
        fake.respond(429, times=1, path_contains="/models")
        with pytest.raises(openai.RateLimitError) as exc:
            sdk.models.list()
        assert exc.value.response.headers["retry-after"] == "0.01"
        assert exc.value.response.headers["retry-after-ms"] == "10"
        assert exc.value.code == "rate_limit_exceeded"
    fake.clear_requests()
    fake.respond(429, times=2, path_contains="/models")
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=2) as sdk:
        assert MODEL in [m.id for m in sdk.models.list()]
    assert [r.headers["x-stainless-retry-count"] for r in fake.calls("GET", "/models")] == ["0", "1", "2"]


def test_respond_500_is_internal_server_error(fake, client):
    fake.respond(500, times=1, method="GET")
    with pytest.raises(openai.InternalServerError) as exc:
        client.files.list()
    assert exc.value.status_code == 500 and exc.value.type == "server_error"
    assert client.files.list().data == []


def test_drop_connection_after_creates_the_job_but_the_client_sees_an_error(fake, client):
    train = upload(client)
    fake.drop_connection_after("POST", "/fine_tuning/jobs")
    with pytest.raises(openai.APIConnectionError):
        create_job(client, train.id, suffix="lost")
    assert [j.object["user_provided_suffix"] for j in fake.jobs.values()] == ["lost"]
    assert [j.id for j in client.fine_tuning.jobs.list()] == [job_id(1)]


def test_a_blind_retry_after_a_dropped_connection_creates_a_second_job(fake):
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=1) as sdk:
        train = upload(sdk)
        fake.drop_connection_after("POST", "/fine_tuning/jobs")
        job = create_job(sdk, train.id)
    assert job.id == job_id(2)
    assert list(fake.jobs) == [job_id(1), job_id(2)]


def test_drop_connection_before_handles_nothing(fake, client):
    train = upload(client)
    fake.drop_connection_before("POST", "/fine_tuning/jobs")
    with pytest.raises(openai.APIConnectionError):
        create_job(client, train.id)
    assert fake.jobs == {}


def test_unknown_url_is_404(fake, client):
    with pytest.raises(openai.NotFoundError) as exc:
        client.get("/batches/nope", cast_to=object)
    assert exc.value.body["message"] == "Invalid URL (GET /batches/nope)"


# ----------------------------------------------------------------------------------------------------------------
# Azure, the conftest fixtures, determinism
# ----------------------------------------------------------------------------------------------------------------

def test_azure_client_runs_a_job(fake, azure):
    train = azure.files.create(file=("train.jsonl", TRAIN_BYTES), purpose="fine-tune")
    assert azure.files.retrieve(train.id).status == "processed"
    job, seen = run_to_end(azure, create_job(azure, train.id, suffix="az"))
    assert (job.status, seen[-1], job.fine_tuned_model) == ("succeeded", "succeeded",
                                                            "ft:gpt-4o-mini-2024-07-18:pinoloft-test:az:41cdb3d5")
    first = fake.requests[0]
    assert (first.method, first.path, first.query) == ("POST", "/openai/files", {"api-version": AZURE_API_VERSION})
    assert first.headers["api-key"] == "<redacted>" and "authorization" not in first.headers
    assert {r.path.split("/")[1] for r in fake.requests} == {"openai"}


def test_azure_paths_need_an_api_version(fake):
    with openai.OpenAI(base_url=f"{fake.url}/openai", api_key=fake.api_key, max_retries=0) as sdk, \
            pytest.raises(openai.NotFoundError) as exc:
        sdk.fine_tuning.jobs.list()
    assert exc.value.body == {"message": "Resource not found", "type": "invalid_request_error", "param": None,
                              "code": "404"}


def test_openai_env_fixture_configures_the_sdk(openai_env):
    with openai.OpenAI(max_retries=0) as sdk:
        assert str(sdk.base_url) == openai_env.base_url + "/"
        assert MODEL in [m.id for m in sdk.models.list()]
    assert openai_env.requests[-1].path == "/v1/models"


def test_azure_env_fixture_configures_the_sdk(azure_openai_env):
    with openai.AzureOpenAI(max_retries=0) as sdk:
        assert sdk.fine_tuning.jobs.list().data == []
    assert azure_openai_env.requests[-1].query == {"api-version": "2024-10-21"}


def test_conftest_clients(fake_openai, openai_client, azure_client):
    assert openai_client.files.list().data == azure_client.files.list().data == []
    assert [r.path for r in fake_openai.requests] == ["/v1/files", "/openai/files"]


def test_two_runs_serve_identical_objects():
    def run() -> list[dict]:
        with FakeOpenAI(clock=lambda: NOW) as fake, \
                openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as sdk:
            job, _ = run_to_end(sdk, create_job(sdk, upload(sdk).id, suffix="same"))
            return [job.model_dump(), *[e.model_dump() for e in sdk.fine_tuning.jobs.list_events(job.id, limit=100)],
                    sdk.files.content(job.result_files[0]).text]
    assert json.dumps(run()) == json.dumps(run())


def test_advance_and_complete_without_http(fake, client):
    job = create_job(client, upload(client).id)
    requests = len(fake.requests)
    assert fake.advance(job.id, 2).status == "running"
    assert fake.complete(job.id).status == "succeeded"
    assert len(fake.requests) == requests
    assert client.fine_tuning.jobs.retrieve(job.id).status == "succeeded"


def test_stop_closes_the_connections_clients_keep_alive(fake, client):
    assert client.files.list().data == []
    fake.stop()
    with pytest.raises(openai.APIConnectionError):
        client.files.list()
