"""Submitting a plan and following its job: uploads, one job (never two), and everything it reports.

Submission: a job with the plan's metadata (dataset and parameter fingerprints) that is queued, running or
succeeded is reused. Otherwise the files are uploaded (or earlier uploads of the same bytes reused) and
processed, and the job is created with the SDK's retries switched off: if the request fails in a way that
leaves it unknown whether the job exists (a dropped connection, a 429 or 5xx), the job is looked up by its
metadata before the next attempt, so a retry never pays for a second job.
On OpenAI (not Azure), a refusal because the model or fine-tuning is no longer available is one line naming
the wind-down's dates and the alternatives (`client.call_fine_tuning`, `finetune.wind_down`), exit 4.

Watching: each poll stores the job (a snapshot when it changed), new events (each once: events arrive
newest first and are paged only back to the newest one already stored), metrics, and at the end the
checkpoints, the parsed result file and the models. Polls back off while nothing changes. Interrupt at any
point; `watch` again resumes where the warehouse stops.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import openai

from pinoloft_base.console import progress_bar

from .client import Service, call, call_fine_tuning
from .errors import FileRejected, FinetuneError, JobFailed, PlanError, ServiceError, UsageError
from .plan import TrainingPlan, file_sha256
from .store import Store, dumps, now_utc, timestamp

__all__ = ["submit", "watch", "record_job", "cancel", "WatchResult", "TERMINAL", "REUSABLE", "JOB_COLUMNS",
           "api_job", "job_status", "latest_job", "list_jobs", "refresh_jobs", "status_line"]

log = logging.getLogger(__name__)

TERMINAL = ("succeeded", "failed", "cancelled")
REUSABLE = ("validating_files", "queued", "running", "succeeded")
_CREATE_ATTEMPTS = 4
_RETRYABLE = (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError)


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def find_existing_job(client: openai.OpenAI, plan: TrainingPlan) -> Any | None:
    """The newest job with this plan's metadata that is not failed or cancelled, or None."""
    wanted = plan.metadata()
    page = call_fine_tuning(plan.service, "looking for an existing job", client.fine_tuning.jobs.list, limit=100,
                            metadata={"pinoloft_data": plan.dataset_hash, "pinoloft_params": plan.params_hash})
    for job in page.data:  # filtered again here: a service may ignore the metadata filter
        metadata = job.metadata or {}
        if all(metadata.get(key) == value for key, value in wanted.items() if key != "pinoloft_experiment") \
                and job.status in REUSABLE:
            return job
    return None


def _upload(client: openai.OpenAI, store: Store, service: Service, path: Path, dataset: str, split: str,
            poll_s: float, timeout_s: float) -> str:
    """A processed file id for `path`: an earlier upload of the same bytes, or a new one."""
    sha256 = file_sha256(path)
    known = store.query(
        "SELECT file_id FROM finetune.files WHERE endpoint = ? AND sha256 = ? AND purpose = 'fine-tune' "
        "AND status = 'processed' ORDER BY recorded_at DESC", [service.endpoint, sha256])
    for (file_id,) in known:
        try:
            found = client.files.retrieve(file_id)
        except openai.NotFoundError:
            continue  # deleted on the service since: upload again
        except openai.APIError as error:
            call(f"checking the earlier upload {file_id}", _raise, error)
        if found.status == "processed":
            log.info("reusing %s for %s (same bytes)", file_id, path)
            return file_id
    with path.open("rb") as handle:
        uploaded = call_fine_tuning(service, f"uploading {path}", client.files.create, file=(path.name, handle),
                                    purpose="fine-tune")
    log.info("uploaded %s as %s", path, uploaded.id)
    deadline = time.monotonic() + timeout_s
    delay = poll_s
    current = uploaded
    while current.status not in ("processed", "error"):
        if time.monotonic() > deadline:
            raise ServiceError(f"{path}: file {uploaded.id} still {current.status} after {timeout_s:g} s")
        _sleep(delay)
        delay = min(max(delay * 2, 0.5), 30.0) if poll_s else 0
        current = call(f"checking file {uploaded.id}", client.files.retrieve, uploaded.id)
    with store.transaction() as con:
        Store.upsert(con, "files", {
            "file_id": current.id, "endpoint": service.endpoint, "sha256": sha256, "filename": current.filename,
            "bytes": current.bytes, "purpose": current.purpose, "status": current.status,
            "status_details": getattr(current, "status_details", None), "created_at": timestamp(current.created_at),
            "dataset_name": dataset, "split": split, "local_path": str(path), "recorded_at": now_utc(),
        })
    if current.status == "error":
        details = getattr(current, "status_details", None) or "no details given"
        raise FileRejected(f"{path}: the service rejected file {current.id}: {details}")
    return current.id


def submit(plan: TrainingPlan, store: Store, *, poll_s: float = 2.0, file_timeout_s: float = 3600.0) -> tuple[str, bool]:
    """Submit `plan` (which must have no problems); return (job id, reused an existing job)."""
    if plan.problems:
        raise PlanError("cannot submit: " + "; ".join(plan.problems))
    client = plan.service.client()
    existing = find_existing_job(client, plan)
    if existing is not None:
        log.info("reusing job %s (%s): same data and parameters", existing.id, existing.status)
        record_job(store, plan.service, existing, plan)
        return existing.id, True
    training_file = _upload(client, store, plan.service, plan.train_path, plan.dataset, "train", poll_s, file_timeout_s)
    validation_file = None
    if plan.validation_path is not None:
        validation_file = _upload(client, store, plan.service, plan.validation_path, plan.dataset, "validation",
                                  poll_s, file_timeout_s)
    arguments = dict(model=plan.model, training_file=training_file, method=plan.method(), seed=plan.seed,
                     metadata=plan.metadata())
    if validation_file:
        arguments["validation_file"] = validation_file
    if plan.suffix:
        arguments["suffix"] = plan.suffix
    creator = client.with_options(max_retries=0).fine_tuning.jobs.create
    delay = max(poll_s, 0.0)
    for attempt in range(1, _CREATE_ATTEMPTS + 1):
        try:
            job = creator(**arguments)
            break
        except _RETRYABLE as error:
            log.warning("creating the job failed (%s); looking it up before any retry", type(error).__name__)
            existing = find_existing_job(client, plan)
            if existing is not None:
                job = existing
                break
            if attempt == _CREATE_ATTEMPTS:
                call("creating the job", _raise, error)
            _sleep(delay)
            delay = min(max(delay * 2, 1.0), 60.0) if poll_s else 0
        except openai.APIError as error:  # a refusal for the wind-down is one line with its dates (client.py)
            call_fine_tuning(plan.service, "creating the job", _raise, error)
    record_job(store, plan.service, job, plan)
    log.info("created job %s on %s", job.id, plan.model)
    return job.id, False


def _raise(error: Exception) -> None:
    raise error


def record_job(store: Store, service: Service, job: Any, plan: TrainingPlan | None = None,
               experiment: str | None = None) -> None:
    """Store the job's current state (and a snapshot when it changed)."""
    metadata = job.metadata or {}
    hyper = _hyperparameters(job)
    error = job.error
    row = {
        "job_id": job.id, "endpoint": service.endpoint,
        "dataset_name": plan.dataset if plan else metadata.get("pinoloft_dataset"),
        "experiment": (plan.experiment if plan else None) or experiment or metadata.get("pinoloft_experiment"),
        "dataset_hash": metadata.get("pinoloft_data"), "params_hash": metadata.get("pinoloft_params"),
        "model": job.model, "suffix": getattr(job, "user_provided_suffix", None) or (plan.suffix if plan else None),
        "seed": job.seed, "n_epochs": _text(hyper.get("n_epochs")), "batch_size": _text(hyper.get("batch_size")),
        "learning_rate_multiplier": _text(hyper.get("learning_rate_multiplier")),
        "training_file": job.training_file, "validation_file": job.validation_file, "status": job.status,
        "fine_tuned_model": job.fine_tuned_model, "trained_tokens": job.trained_tokens,
        "error_code": getattr(error, "code", None) if error else None,
        "error_message": getattr(error, "message", None) if error else None,
        "error_param": getattr(error, "param", None) if error else None,
        "created_at": timestamp(job.created_at), "finished_at": timestamp(job.finished_at),
        "estimated_finish": timestamp(getattr(job, "estimated_finish", None)),
        "result_files": list(job.result_files or []), "updated_at": now_utc(),
    }
    snapshot = dumps(job.model_dump(mode="json"))
    with store.transaction() as con:
        previous = con.execute("SELECT dataset_name, experiment FROM finetune.jobs WHERE job_id = ?", [job.id]).fetchall()
        if previous:  # what we knew at submission stays when the service's copy lacks it
            row["dataset_name"] = row["dataset_name"] or previous[0][0]
            row["experiment"] = row["experiment"] or previous[0][1]
        Store.upsert(con, "jobs", row)
        last = con.execute("SELECT job_json FROM finetune.job_snapshots WHERE job_id = ? ORDER BY observed_at DESC "
                           "LIMIT 1", [job.id]).fetchall()
        if not last or last[0][0] != snapshot:
            con.execute("INSERT INTO finetune.job_snapshots VALUES (?, ?, ?, ?)", [job.id, now_utc(), job.status, snapshot])


def _hyperparameters(job: Any) -> dict:
    method = getattr(job, "method", None)
    supervised = getattr(method, "supervised", None) if method else None
    source = getattr(supervised, "hyperparameters", None) or getattr(job, "hyperparameters", None)
    return source.model_dump() if source is not None else {}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class WatchResult:
    job_id: str
    status: str
    fine_tuned_model: str | None
    new_events: int
    steps: int
    total_steps: int | None
    checkpoints: int
    result_rows: int
    plot: Path | None = None


def _new_events(client: openai.OpenAI, job_id: str, known_newest: set[str]) -> list[Any]:
    """Events not stored yet, oldest first: pages newest-first until a stored event shows up."""
    collected: list[Any] = []
    after = None
    while True:
        page = call(f"reading events of {job_id}", client.fine_tuning.jobs.list_events, job_id, limit=100,
                    **({"after": after} if after else {}))
        fresh = []
        for event in page.data:
            if event.id in known_newest:
                collected.extend(fresh)
                return list(reversed(collected))
            fresh.append(event)
        collected.extend(fresh)
        if not page.has_more or not page.data:
            return list(reversed(collected))
        after = page.data[-1].id


def _store_events(store: Store, job_id: str, events: list[Any]) -> tuple[int, tuple[int, int | None, dict] | None]:
    """Insert events and metrics; (events inserted, latest (step, total_steps, data) seen)."""
    latest = None
    event_rows, metric_rows = [], []
    for event in events:
        data = event.data if isinstance(event.data, dict) else (event.data.model_dump() if event.data else None)
        event_rows.append({"event_id": event.id, "job_id": job_id, "created_at": timestamp(event.created_at),
                           "level": event.level, "type": getattr(event, "type", None), "message": event.message,
                           "data_json": dumps(data) if data is not None else None})
        if getattr(event, "type", None) == "metrics" and data and "step" in data:
            metric_rows.append({
                "job_id": job_id, "step": int(data["step"]), "total_steps": data.get("total_steps"),
                "train_loss": data.get("train_loss"), "train_mean_token_accuracy": data.get("train_mean_token_accuracy"),
                "valid_loss": data.get("valid_loss"), "valid_mean_token_accuracy": data.get("valid_mean_token_accuracy"),
                "full_valid_loss": data.get("full_valid_loss"),
                "full_valid_mean_token_accuracy": data.get("full_valid_mean_token_accuracy"),
                "event_id": event.id, "created_at": timestamp(event.created_at),
            })
            latest = (int(data["step"]), data.get("total_steps"), data)
    with store.transaction() as con:
        inserted = Store.insert_new(con, "job_events", event_rows)
        Store.insert_new(con, "job_metrics", metric_rows)
    return inserted, latest


def _finish(client: openai.OpenAI, store: Store, service: Service, job: Any) -> tuple[int, int]:
    """Checkpoints, the parsed result file and the models of a finished job; (checkpoints, result rows)."""
    checkpoints: list[Any] = []
    after = None
    while True:
        page = call(f"reading checkpoints of {job.id}", client.fine_tuning.jobs.checkpoints.list, job.id, limit=100,
                    **({"after": after} if after else {}))
        checkpoints.extend(page.data)
        if not page.has_more or not page.data:
            break
        after = page.data[-1].id
    results: list[dict] = []
    for file_id in job.result_files or []:
        content = call(f"downloading result file {file_id}", client.files.content, file_id)
        results.extend(_result_rows(job.id, file_id, _result_text(content.read())))
    dataset, experiment = (store.query("SELECT dataset_name, experiment FROM finetune.jobs WHERE job_id = ?", [job.id])
                           or [(None, None)])[0]
    with store.transaction() as con:
        for checkpoint in checkpoints:
            metrics = checkpoint.metrics.model_dump() if checkpoint.metrics else {}
            Store.upsert(con, "job_checkpoints", {
                "checkpoint_id": checkpoint.id, "job_id": job.id, "step_number": checkpoint.step_number,
                "fine_tuned_model_checkpoint": checkpoint.fine_tuned_model_checkpoint,
                "created_at": timestamp(checkpoint.created_at),
                **{name: metrics.get(name) for name in ("train_loss", "train_mean_token_accuracy", "valid_loss",
                                                       "valid_mean_token_accuracy", "full_valid_loss",
                                                       "full_valid_mean_token_accuracy")},
            })
            Store.upsert(con, "models", {
                "model_name": checkpoint.fine_tuned_model_checkpoint, "kind": "checkpoint", "job_id": job.id,
                "step": checkpoint.step_number, "base_model": job.model, "dataset_name": dataset,
                "experiment": experiment, "endpoint": service.endpoint, "created_at": timestamp(checkpoint.created_at),
            })
        for row in results:
            Store.upsert(con, "job_results", row)
        if job.fine_tuned_model:
            final_step = max((row["step"] for row in results), default=None)
            Store.upsert(con, "models", {
                "model_name": job.fine_tuned_model, "kind": "final", "job_id": job.id, "step": final_step,
                "base_model": job.model, "dataset_name": dataset, "experiment": experiment,
                "endpoint": service.endpoint, "created_at": timestamp(job.finished_at),
            })
    return len(checkpoints), len(results)


def _result_text(content: bytes) -> str:
    """The result CSV: OpenAI serves it base64-encoded; other services may send it plain."""
    text = content.decode("utf-8", "replace").strip()
    if text.startswith("step"):
        return text
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return text  # neither: parsed as it is, and an unreadable file gives no rows


def _result_rows(job_id: str, file_id: str, text: str) -> list[dict]:
    """The result CSV (`step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy`) as rows."""
    def number(line: dict, name: str) -> float | None:
        value = (line.get(name) or "").strip()
        return float(value) if value else None

    rows = []
    for line in csv.DictReader(io.StringIO(text)):
        if not (line.get("step") or "").strip():
            continue
        rows.append({"job_id": job_id, "step": int(float(line["step"])), "train_loss": number(line, "train_loss"),
                     "train_accuracy": number(line, "train_accuracy"), "valid_loss": number(line, "valid_loss"),
                     "valid_mean_token_accuracy": number(line, "valid_mean_token_accuracy"),
                     "result_file_id": file_id})
    return rows


def watch(job_id: str, store: Store, service: Service, *, poll_s: float = 5.0, max_poll_s: float = 60.0,
          timeout_s: float | None = None, quiet: bool = False, plot_dir: Path | None = None,
          on_poll: Callable[[Any], None] | None = None) -> WatchResult:
    """Follow `job_id` until it ends (or `timeout_s`), storing what it reports; raise JobFailed if it failed."""
    api_job(job_id)
    client = service.client()
    known = {row[0] for row in store.query("SELECT event_id FROM finetune.job_events WHERE job_id = ?", [job_id])}
    steps = store.query("SELECT max(step), max(total_steps) FROM finetune.job_metrics WHERE job_id = ?", [job_id])
    step, total = (steps[0] if steps else (None, None))
    new_events = 0
    delay = poll_s
    started = time.monotonic()
    with progress_bar(total=total, desc=f"{job_id}", unit="step", quiet=quiet) as bar:
        bar.n = step or 0
        while True:
            job = call(f"reading job {job_id}", client.fine_tuning.jobs.retrieve, job_id)
            record_job(store, service, job)
            events = _new_events(client, job_id, known)
            inserted, latest = _store_events(store, job_id, events)
            known.update(event.id for event in events)
            new_events += inserted
            if latest is not None:
                step, total = latest[0], latest[1] or total
                if total and bar.total != total:
                    bar.total = total
                bar.n = step
                losses = {key: round(value, 4) for key, value in latest[2].items()
                          if key in ("train_loss", "valid_loss") and isinstance(value, (int, float))}
                bar.set_postfix(status=job.status, **losses)
            else:
                bar.set_postfix(status=job.status)
            bar.refresh()
            if on_poll is not None:
                on_poll(job)
            if job.status in TERMINAL:
                break
            if timeout_s is not None and time.monotonic() - started > timeout_s:
                break
            delay = poll_s if (events or not poll_s) else min(max(delay * 2, poll_s), max_poll_s)
            _sleep(delay)
    checkpoints = results = 0
    plot = None
    if job.status in TERMINAL:
        checkpoints, results = _finish(client, store, service, job)
        if plot_dir is not None and (results or step):
            from .plot import plot_job

            plot = plot_job(store, job_id, plot_dir / f"{job_id}.png")
    result = WatchResult(job_id, job.status, job.fine_tuned_model, new_events, step or 0, total, checkpoints,
                         results, plot)
    if job.status in ("failed", "cancelled"):
        error = job.error
        detail = f"{error.code}: {error.message}" if error and (error.code or error.message) else "no error given"
        raise JobFailed(f"job {job_id} {job.status}: {detail}")
    return result


def cancel(job_id: str, store: Store, service: Service) -> Any:
    """Cancel the job on the service (recorded in the warehouse); the job as the service returns it."""
    api_job(job_id)
    client = service.client()
    job = call(f"cancelling {job_id}", client.fine_tuning.jobs.cancel, job_id)
    record_job(store, service, job)
    return job


def api_job(job_id: str) -> str:
    """`job_id`, unless it is a local LoRA job, which no service knows (UsageError)."""
    if job_id.startswith("local-"):
        raise UsageError(f"{job_id} is a local LoRA job: `train --backend local` follows it itself (rerun the same "
                         "command to resume it); its state is in finetune.jobs (`pinoloft jobs list`)")
    return job_id


def latest_job(store: Store) -> str:
    """The job `watch` follows when none is named: the newest unfinished API job, else the newest API job."""
    rows = store.query("SELECT job_id FROM finetune.jobs WHERE endpoint IS DISTINCT FROM 'local' "
                       "ORDER BY (status IN ('succeeded', 'failed', 'cancelled')), created_at DESC LIMIT 1")
    if not rows:
        raise FinetuneError("no job in the warehouse yet: name one, or submit with make train SUBMIT=1")
    return rows[0][0]


JOB_COLUMNS = ("job", "status", "model", "dataset", "experiment", "epochs", "fine-tuned model", "created (UTC)")


def list_jobs(store: Store, limit: int = 20) -> list[tuple]:
    """The newest `limit` jobs in the warehouse (API and local), one row of JOB_COLUMNS each."""
    return store.query("SELECT job_id, status, model, dataset_name, experiment, n_epochs, fine_tuned_model, "
                       "strftime(created_at, '%Y-%m-%d %H:%M') FROM finetune.jobs ORDER BY created_at DESC LIMIT ?",
                       [limit])


def refresh_jobs(store: Store, service: Service, limit: int = 20) -> int:
    """Record the service's newest `limit` jobs (each as `record_job` does); the number recorded."""
    page = call("listing jobs", service.client().fine_tuning.jobs.list, limit=limit)
    for job in page.data:
        record_job(store, service, job)
    return len(page.data)


def job_status(job_id: str, store: Store, service: Service) -> Any:
    """The job as the service has it now (recorded in the warehouse on the way)."""
    api_job(job_id)
    job = call(f"reading job {job_id}", service.client().fine_tuning.jobs.retrieve, job_id)
    record_job(store, service, job)
    return job


def status_line(job: Any) -> str:
    """`ftjob-…: status on model -> fine-tuned model; N trained tokens; error code: message` (what is known)."""
    line = f"{job.id}: {job.status} on {job.model}"
    if job.fine_tuned_model:
        line += f" -> {job.fine_tuned_model}"
    if job.trained_tokens:
        line += f"; {job.trained_tokens:,} trained tokens"
    if job.error and (job.error.code or job.error.message):
        line += f"; error {job.error.code}: {job.error.message}"
    return line
