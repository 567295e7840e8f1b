"""A local HTTP server that speaks OpenAI's fine-tuning wire format: the test double for `finetune/`.

`finetune/` drives fine-tuning through the real `openai` SDK. The SDK talks HTTP through its own transport, so
request-level mocks cannot intercept it; this module runs a real server on 127.0.0.1 (``ThreadingHTTPServer`` in a
daemon thread, standard library only) and the SDK is pointed at it with ``base_url``. Nothing in the SDK is
patched.

Where the shapes come from
--------------------------
Every JSON body follows OpenAI's published API reference (files, fine-tuning jobs, events, checkpoints, models)
and the typed models of the installed SDK (``openai.types.FileObject``, ``openai.types.fine_tuning.FineTuningJob``,
``FineTuningJobEvent``, ``jobs.FineTuningJobCheckpoint``, ``openai.types.Model``), so the SDK parses every answer
into those classes. Paginated lists use the cursor envelope ``{"object": "list", "data": [...], "has_more": bool}``
(plus ``first_id``/``last_id`` for files and checkpoints, as OpenAI sends them); the SDK pages with
``after=<id of the last item>``. Errors use ``{"error": {"message", "type", "param", "code"}}``, which the SDK turns
into ``BadRequestError`` (400), ``AuthenticationError`` (401), ``PermissionDeniedError`` (403), ``NotFoundError``
(404), ``RateLimitError`` (429) and ``InternalServerError`` (5xx). Error *messages* for cases that OpenAI does not
document word for word (unknown job, file not processed yet, ...) are this fake's own; their ``code`` values are
listed next to the handlers.

Two URL prefixes are served: ``/v1/...`` (OpenAI: ``OpenAI(base_url=fake.base_url)``, key in ``Authorization:
Bearer``) and ``/openai/...`` (Azure: ``AzureOpenAI(azure_endpoint=fake.azure_endpoint, api_version=...)``, key
in ``api-key``, every request must carry ``?api-version=``). Either header is accepted on either prefix.

Endpoints (under both prefixes)::

    POST   /files                               multipart `file` + `purpose` -> FileObject ("uploaded")
    GET    /files?purpose=&order=&after=&limit= cursor list, newest first by default
    GET    /files/{id}                          FileObject; the first retrieve processes it ("processed"/"error")
    GET    /files/{id}/content                  the raw bytes
    DELETE /files/{id}                          {"id", "object": "file", "deleted": true}
    POST   /fine_tuning/jobs                    FineTuningJob ("validating_files")
    GET    /fine_tuning/jobs?after=&limit=&metadata[k]=v   newest first (`metadata=null`: jobs without)
    GET    /fine_tuning/jobs/{id}               FineTuningJob, after advancing the job one tick
    POST   /fine_tuning/jobs/{id}/cancel        "cancelled"; 400 (code invalid_state) if already finished
    GET    /fine_tuning/jobs/{id}/events?after=&limit=       newest first, default limit 20
    GET    /fine_tuning/jobs/{id}/checkpoints?after=&limit=  newest first, default limit 10
    GET    /models, GET /models/{id}, DELETE /models/{id}     base models, checkpoints and fine-tuned models
    POST   /chat/completions                    ChatCompletion from the model's script (see below)
    POST   /deployments/{deployment}/chat/completions   the same, Azure style: the deployment is the model

The job life cycle is deterministic and driven by the client: every ``GET /fine_tuning/jobs/{id}`` (retrieve)
advances that job one *tick* before answering. With the defaults: the create answer says ``validating_files``,
retrieve 1 ``queued``, retrieve 2 ``running`` (event "Fine-tuning job started"), then each retrieve adds 3 training
steps (one ``metrics`` event each, message ``Step 3/30: training loss=1.5816``; validation metrics every 2nd step
when there is a validation file); the retrieve that reaches the last step answers ``succeeded`` with
``fine_tuned_model`` ``ft:<model>:pinoloft-test:<suffix or empty>:<8 hex>``, ``finished_at``, ``trained_tokens``
(ceil(characters of message content / 4) x n_epochs) and one result file ``step_metrics.csv``. Total steps are
ceil(examples / batch_size) x n_epochs (capped at 200); checkpoints are made at the last 3 epoch ends. A training
file with fewer than 10 examples fails the job at its first retrieve (code ``invalid_training_file``), as OpenAI
requires 10. See ``FakeOpenAI`` for the knobs and ``synthetic_metrics`` for the losses.

OpenAI's fine-tuning wind-down, both refusals in OpenAI's error envelope: a model that cannot be fine-tuned (any model
outside ``base_models``: pass ``base_models`` without ``gpt-4o-mini-2024-07-18`` for a closed snapshot) is answered
400 ``model_not_available`` "Model … is not available for fine-tuning or does not exist.", OpenAI's words; after
``close_fine_tuning()`` every job creation is answered 403 ``permission_denied`` with a message naming fine-tuning
(OpenAI's wording for a closed organisation is not published word for word; the default is this fake's).

Chat completions (for evaluations) answer from per-model scripts: ``fake.script_chat(model, reply)`` registers
``reply(messages) -> str`` (a function of the request's ``messages`` list, or a fixed string); a model without a
script is answered 404 ``model_not_found``, as OpenAI answers an unknown model. The answer is OpenAI's
``chat.completion`` object (one choice, ``finish_reason`` "stop", ``system_fingerprint`` "fp_fake") with
deterministic usage: ``prompt_tokens`` = max(1, ceil(characters of message contents / 4)) and
``completion_tokens`` = max(1, ceil(len(reply) / 4)). With ``max_completion_tokens`` (or the older ``max_tokens``)
below that, the reply is cut to 4 x that many characters, ``completion_tokens`` is the limit and ``finish_reason``
is "length". Only ``n`` = 1 and no streaming are supported (400 otherwise). Azure's client puts the model in the
path (``/openai/deployments/{model}/chat/completions``); the path's deployment wins over the body's ``model``.
``fake.chat_requests`` keeps every chat request body that reached the handler (arrival order) and
``fake.chat_counts[model]`` the replies served per model.

Ids are sequential per server (``file-…01``, ``ftjob-…01``, ``ftevent-``, ``ftckpt-``, ``chatcmpl-``: a prefix and
24 hex digits), so two servers given the same requests and a fixed ``clock`` serve byte-identical answers.

Typical use::

    with FakeOpenAI() as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0)
        ...
        fake.respond(429, times=1, path_contains="/fine_tuning/jobs", method="POST")
        fake.drop_connection_after("POST", "/fine_tuning/jobs")
        fake.script_chat("gpt-4o-mini", lambda messages: messages[-1]["content"].upper())
        assert [r.method for r in fake.requests] == [...]
"""
from __future__ import annotations

import base64
import collections
import hashlib
import itertools
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NamedTuple, Self
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "BASE_MODELS", "DEFAULT_API_KEY", "ORGANIZATION_ID", "ORGANIZATION_NAME", "RESULT_CSV_HEADER",
    "SYSTEM_FINGERPRINT", "APIError", "ChatReply", "FakeFile", "FakeJob", "FakeOpenAI", "RecordedRequest",
    "chat_jsonl", "chat_usage", "synthetic_metrics", "validate_chat_jsonl",
]

DEFAULT_API_KEY = "sk-test-pinoloft-0123456789abcdef"
ORGANIZATION_NAME = "pinoloft-test"  # the org segment of fine-tuned model names, and their `owned_by`
ORGANIZATION_ID = "org-pinoloft-test"  # `organization_id` of every job
# Base models that can be fine-tuned, with their `created` timestamps (as OpenAI lists them, owned by "system").
BASE_MODELS: dict[str, int] = {
    "gpt-4o-mini-2024-07-18": 1721172717,
    "gpt-4o-mini": 1721172741,
    "gpt-4o-2024-08-06": 1722814719,
    "gpt-4.1-2025-04-14": 1744315746,
    "gpt-4.1-mini-2025-04-14": 1744317547,
    "gpt-4.1-nano-2025-04-14": 1744321025,
    "gpt-3.5-turbo-0125": 1706048358,
}
# What "auto" (or an absent value) resolves to.
AUTO_HYPERPARAMETERS: dict[str, Any] = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}
# The header of the `step_metrics.csv` result file OpenAI attaches to a succeeded job.
RESULT_CSV_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
FILE_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")
API_PREFIXES = ("/v1", "/openai")
SECRET_HEADERS = ("authorization", "api-key")
SYSTEM_FINGERPRINT = "fp_fake"  # `system_fingerprint` of every chat completion
# How a scripted model answers: a function of the request's `messages` (as sent), or a fixed reply.
ChatReply = Callable[[list[dict]], str] | str


# ----------------------------------------------------------------------------------------------------------------
# Pure helpers (also handy in tests)
# ----------------------------------------------------------------------------------------------------------------

def synthetic_metrics(step: int, total_steps: int) -> dict[str, float]:
    """The deterministic metrics of training step `step` of `total_steps`.

    Losses fall and accuracies rise strictly with the step (also after rounding to 6 places, for up to a few
    thousand steps). Keys: train_loss, train_mean_token_accuracy, valid_loss, valid_mean_token_accuracy,
    full_valid_loss, full_valid_mean_token_accuracy. Which of them a step reports is decided by the job
    (validation metrics only with a validation file; full validation metrics only at checkpoints).
    """
    f = step / total_steps
    return {
        "train_loss": round(0.1 + 2.0 * math.exp(-3.0 * f), 6),
        "train_mean_token_accuracy": round(0.35 + 0.6 * (1.0 - math.exp(-3.0 * f)), 6),
        "valid_loss": round(0.15 + 2.0 * math.exp(-2.7 * f), 6),
        "valid_mean_token_accuracy": round(0.33 + 0.58 * (1.0 - math.exp(-2.7 * f)), 6),
        "full_valid_loss": round(0.16 + 2.0 * math.exp(-2.7 * f), 6),
        "full_valid_mean_token_accuracy": round(0.32 + 0.58 * (1.0 - math.exp(-2.7 * f)), 6),
    }


def _content_chars(content: Any) -> int:
    """Characters of a message's content: a string, or a list of parts with `text`."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part.get("text", "")) for part in content if isinstance(part, dict)
                   and isinstance(part.get("text", ""), str))
    return 0


def chat_usage(messages: list[dict], reply: str) -> dict[str, int]:
    """The `usage` of a chat completion: prompt_tokens = max(1, ceil(characters of message contents / 4)),
    completion_tokens = max(1, ceil(len(reply) / 4)), total_tokens their sum."""
    prompt = max(1, math.ceil(sum(_content_chars(m.get("content")) for m in messages if isinstance(m, dict)) / 4))
    completion = max(1, math.ceil(len(reply) / 4))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def validate_chat_jsonl(content: bytes) -> tuple[int, int, str | None]:
    """Check a chat fine-tuning file; (examples, characters of message content, problem or None).

    Each non-blank line must be a JSON object with a non-empty `messages` list of objects that have a known `role`,
    and at least one `assistant` message. The problem text becomes the file's `status_details`.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return 0, 0, "Invalid file format. The file is not valid UTF-8."
    examples = chars = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except json.JSONDecodeError as exc:
            return examples, chars, f"Invalid file format. Line {number} is not valid JSON: {exc.msg}."
        messages = example.get("messages") if isinstance(example, dict) else None
        if not isinstance(messages, list) or not messages:
            return examples, chars, f"Invalid file format. Line {number}: expected an object with a non-empty 'messages' list."
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in MESSAGE_ROLES:
                return examples, chars, (f"Invalid file format. Line {number}, message {index}: "
                                         f"a message must be an object with a role in {', '.join(MESSAGE_ROLES)}.")
            chars += _content_chars(message.get("content"))
        if not any(message["role"] == "assistant" for message in messages):
            return examples, chars, f"Invalid file format. Line {number}: the example has no assistant message."
        examples += 1
    if not examples:
        return 0, 0, "Invalid file format. The file contains no examples."
    return examples, chars, None


def chat_jsonl(examples: int = 10, *, prefix: str = "example") -> bytes:
    """A valid chat fine-tuning JSONL file with `examples` lines (system, user and assistant messages)."""
    lines = []
    for i in range(examples):
        lines.append(json.dumps({"messages": [
            {"role": "system", "content": "You mutate SQL queries."},
            {"role": "user", "content": f"{prefix} {i}: SELECT * FROM t WHERE c > {i}"},
            {"role": "assistant", "content": f"SELECT * FROM t WHERE c >= {i}"},
        ]}))
    return ("\n".join(lines) + "\n").encode("utf-8")


def mask_key(key: str) -> str:
    """An API key as OpenAI shows it in errors: the first 3 and last 4 characters, the rest starred."""
    if len(key) <= 11:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def _error(message: str, type_: str = "invalid_request_error", param: str | None = None,
           code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class APIError(Exception):
    """Raised by handlers; answered with the error envelope."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.body, self.headers = status, _error(message, type_, param, code), headers or {}


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """Parse a multipart/form-data body; (text fields, files as name -> (filename, content type, bytes))."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise APIError(400, "Invalid multipart body: no boundary in the Content-Type header.")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            raise APIError(400, "Invalid multipart body: a part has no header block.")
        data = data[:-2] if data.endswith(b"\r\n") else data
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = dict(re.findall(r';\s*([\w*]+)="((?:[^"\\]|\\.)*)"', disposition))
        params.update({k: v for k, v in re.findall(r';\s*([\w*]+)=([^";\s]+)', disposition)})
        name = params.get("name")
        if name is None:
            continue
        if "filename" in params:
            files[name] = (params["filename"], headers.get("content-type", "application/octet-stream"), data)
        else:
            fields[name] = data.decode("utf-8")
    return fields, files


# ----------------------------------------------------------------------------------------------------------------
# State
# ----------------------------------------------------------------------------------------------------------------

class RecordedRequest(NamedTuple):
    """One request as received; `headers` have lower-case names, and `authorization`/`api-key` say <redacted>."""
    method: str
    path: str  # with its prefix (/v1/... or /openai/...), percent-decoded, without the query
    query: dict[str, str]  # the last value of each name; `metadata[k]` keys as sent
    headers: dict[str, str]


@dataclass
class FakeFile:
    """An uploaded (or produced) file: `object` is the FileObject JSON served for it."""
    id: str
    content: bytes
    object: dict
    examples: int = 0  # chat examples (fine-tune files that passed validation)
    chars: int = 0  # characters of message content (for trained_tokens)
    problem: str | None = None  # why validation fails; the file goes to "error" when processed
    retrievals: int = 0

    @property
    def status(self) -> str:
        return self.object["status"]


@dataclass
class FakeJob:
    """A fine-tuning job: `object` is the FineTuningJob JSON served for it; lists are oldest first."""
    id: str
    request: dict  # the JSON body of the create request, as received
    object: dict
    model_code: str  # the last segment of the fine-tuned model name
    hyperparameters: dict
    examples: int
    tokens_per_epoch: int
    has_validation: bool
    total_steps: int
    epoch_ends: list[int]
    checkpoint_steps: list[int]
    failure: dict | None = None  # planned by fail_next_job: {"code", "message", "param", "at_step"}
    events: list[dict] = field(default_factory=list)
    checkpoints: list[dict] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)  # one row per step: step + synthetic_metrics + "validated"
    steps_done: int = 0
    phase_ticks: int = 0  # ticks spent in the current status
    retrievals: int = 0

    @property
    def status(self) -> str:
        return self.object["status"]

    @property
    def error(self) -> dict | None:
        return self.object["error"]

    @property
    def fine_tuned_model(self) -> str | None:
        return self.object["fine_tuned_model"]

    def event_messages(self) -> list[str]:
        """Event messages, oldest first."""
        return [event["message"] for event in self.events]


@dataclass
class _Rule:
    """An injected answer (respond) or a dropped connection (drop_connection_*)."""
    kind: str  # "respond", "drop_after", "drop_before"
    remaining: int
    method: str | None
    path_contains: str | None
    status: int = 0
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path_contains is None or self.path_contains in path))


_DEFAULT_ERRORS: dict[int, dict] = {
    400: _error("Bad request.", "invalid_request_error"),
    401: _error("Incorrect API key provided.", "invalid_request_error", code="invalid_api_key"),
    403: _error("You are not allowed to perform this request.", "invalid_request_error", code="permission_denied"),
    404: _error("Not found.", "invalid_request_error"),
    409: _error("The request conflicts with the current state of the resource.", "invalid_request_error"),
    429: _error("Rate limit reached for requests. Please try again in 10ms.", "requests",
                code="rate_limit_exceeded"),
    500: _error("The server had an error while processing your request. Sorry about that!", "server_error"),
    502: _error("Bad gateway.", "server_error"),
    503: _error("The engine is currently overloaded, please try again later.", "server_error"),
}


# ----------------------------------------------------------------------------------------------------------------
# The server
# ----------------------------------------------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    server_version = "FakeOpenAI/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        self.server.fake._connections.add(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.fake._connections.discard(self.connection)  # type: ignore[attr-defined]
        super().finish()

    def _dispatch(self) -> None:
        self.server.fake._dispatch(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # listen backlog: many concurrent clients connect at once without SYN retries
    block_on_close = False  # keep-alive connections of clients still open must not block stop()
    fake: FakeOpenAI


class FakeOpenAI:
    """The fake OpenAI/Azure OpenAI fine-tuning service; see the module docstring.

    Constructor knobs (all keyword-only but `api_key`):
      api_key              the one key accepted (Bearer or api-key header)
      steps_per_tick       training steps (metrics events) each retrieve of a running job adds (3)
      validating_ticks     retrieves that move a job out of validating_files (1), and
      queued_ticks         out of queued (1)
      file_ticks           retrieves of a file until it leaves "uploaded" (1: the first retrieve sees "processed"
                           or "error"; 0: the upload answer already says so)
      max_steps            cap of total_steps = ceil(examples / batch_size) * n_epochs (200)
      min_examples         fewer training examples fail the job in validation, as OpenAI requires 10 (10)
      valid_every          with a validation file, validation metrics every this many steps and at the last (2)
      auto_hyperparameters what "auto" resolves to (n_epochs 3, batch_size 1, learning_rate_multiplier 1.8)
      base_models          {model id: created} that can be fine-tuned (BASE_MODELS)
      result_files_base64  serve result file content base64-encoded, as OpenAI actually does (False: plain CSV)
      clock                () -> int seconds for every timestamp (time.time)

    Chat completions: `script_chat(model, reply)` (how a model answers), `chat_requests` (bodies, arrival order),
    `chat_counts` (replies served per model), `chat_calls(model)`.
    """

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, host: str = "127.0.0.1", port: int = 0,
                 steps_per_tick: int = 3, validating_ticks: int = 1, queued_ticks: int = 1, file_ticks: int = 1,
                 max_steps: int = 200, min_examples: int = 10, valid_every: int = 2,
                 auto_hyperparameters: dict | None = None, base_models: dict[str, int] | None = None,
                 result_files_base64: bool = False, clock: Callable[[], int] | None = None):
        self.api_key = api_key
        self.host, self.port = host, port
        self.steps_per_tick, self.validating_ticks, self.queued_ticks = steps_per_tick, validating_ticks, queued_ticks
        self.file_ticks, self.max_steps, self.min_examples = file_ticks, max_steps, min_examples
        self.valid_every = valid_every
        self.auto_hyperparameters = {**AUTO_HYPERPARAMETERS, **(auto_hyperparameters or {})}
        self.result_files_base64 = result_files_base64
        self.clock = clock or (lambda: int(time.time()))
        # introspection
        self.requests: list[RecordedRequest] = []
        self.files: dict[str, FakeFile] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.models: dict[str, dict] = {
            name: {"id": name, "object": "model", "created": created, "owned_by": "system"}
            for name, created in (base_models or BASE_MODELS).items()}
        self.base_models = frozenset(self.models)
        self.fine_tuning_closed: dict | None = None  # the 403 every job creation gets (close_fine_tuning)
        self.chat_requests: list[dict] = []  # every chat completion request body that reached the handler
        self.chat_counts: collections.Counter[str] = collections.Counter()  # model -> replies served (200)
        self._chat_scripts: dict[str, ChatReply] = {}
        # internals
        self._lock = threading.RLock()
        self._rules: list[_Rule] = []
        self._failures: list[dict] = []
        self._counters = {prefix: itertools.count(1) for prefix in ("file", "ftjob", "ftevent", "ftckpt", "req",
                                                                  "chatcmpl")}
        self.errors: list[str] = []  # unexpected exceptions inside the fake (answered with 500)
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Bind (an ephemeral port unless one was given) and serve in a daemon thread."""
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-openai-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        for connection in list(self._connections):  # keep-alive connections the clients still hold
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For openai.OpenAI(base_url=...): http://127.0.0.1:PORT/v1"""
        return f"{self.url}/v1"

    @property
    def azure_endpoint(self) -> str:
        """For openai.AzureOpenAI(azure_endpoint=...): http://127.0.0.1:PORT (the SDK adds /openai)."""
        return self.url

    # -- knobs --------------------------------------------------------------------------------------------------

    def close_fine_tuning(self, message: str = "This organization is not allowed to create fine-tuning jobs.",
                          code: str = "permission_denied") -> None:
        """From now on every job creation is refused 403 (`code`, `message`), as OpenAI refuses an organisation
        its self-serve fine-tuning is closed to; reading jobs, files and models goes on working."""
        with self._lock:
            self.fine_tuning_closed = {"message": message, "code": code}

    def fail_next_job(self, code: str = "server_error", message: str = "The job failed due to an internal error.",
                      param: str | None = None, at_step: int = 0) -> None:
        """The next created job fails (status "failed", `error` {code, message, param}) once it is running and
        has done `at_step` steps (0: at the first tick after it started). Calls queue up, one per job."""
        with self._lock:
            self._failures.append({"code": code, "message": message, "param": param, "at_step": at_step})

    def respond(self, status: int, times: int = 1, path_contains: str | None = None, method: str | None = None,
                body: dict | None = None, headers: dict[str, str] | None = None,
                retry_after: float | None = None) -> None:
        """Answer the next `times` matching requests with `status` and an error envelope instead of handling them.

        `body` is the envelope ({"error": {...}}) or just its inner object; the default is OpenAI's usual body for
        the status. `retry_after` (seconds) sends `retry-after` and `retry-after-ms`; a 429 sends 0.01 s by default
        so SDK retries are quick. Rules are checked in the order they were added, before authentication.
        """
        if body is None:
            body = _DEFAULT_ERRORS.get(status, _error(f"HTTP {status}", "server_error" if status >= 500
                                                       else "invalid_request_error"))
        elif "error" not in body:
            body = {"error": {"message": "", "type": "invalid_request_error", "param": None, "code": None, **body}}
        extra = dict(headers or {})
        if retry_after is None and status == 429:
            retry_after = 0.01
        if retry_after is not None:
            extra.setdefault("retry-after", f"{retry_after:g}")
            extra.setdefault("retry-after-ms", str(int(retry_after * 1000)))
        with self._lock:
            self._rules.append(_Rule("respond", times, method, path_contains, status, json.loads(json.dumps(body)),
                                     extra))

    def drop_connection_after(self, method: str | None, path_contains: str | None, times: int = 1) -> None:
        """Handle the next `times` matching requests fully (a job really gets created), then close the socket
        without answering: the client sees a connection error and cannot know whether it worked."""
        with self._lock:
            self._rules.append(_Rule("drop_after", times, method, path_contains))

    def drop_connection_before(self, method: str | None, path_contains: str | None, times: int = 1) -> None:
        """Close the socket of the next `times` matching requests without handling them at all."""
        with self._lock:
            self._rules.append(_Rule("drop_before", times, method, path_contains))

    def script_chat(self, model: str, reply: ChatReply) -> None:
        """Make `model` answer chat completions with `reply(messages)` (the request's `messages` list as sent),
        or with the fixed text `reply`. Replaces an earlier script of the model.

        `reply` is called outside the server lock, so concurrent requests are answered concurrently: it may run
        in several server threads at once and must be thread-safe (pure functions are). It may raise `APIError`
        to answer with an error (e.g. ``APIError(400, "...", code="context_length_exceeded")``); any other
        exception, or a non-string result, answers 500 and is recorded in `errors`.
        """
        if not (isinstance(reply, str) or callable(reply)):
            raise TypeError(f"reply must be a str or a callable, not {type(reply).__name__}")
        with self._lock:
            self._chat_scripts[model] = reply

    def set_ticks(self, steps_per_tick: int | None = None, validating: int | None = None, queued: int | None = None,
                  files: int | None = None, max_steps: int | None = None) -> None:
        """Change the pace: steps per running tick, retrieves spent validating / queued, file retrieves until
        processed, and the cap on total steps (for jobs created from now on)."""
        with self._lock:
            if steps_per_tick is not None:
                self.steps_per_tick = steps_per_tick
            if validating is not None:
                self.validating_ticks = validating
            if queued is not None:
                self.queued_ticks = queued
            if files is not None:
                self.file_ticks = files
            if max_steps is not None:
                self.max_steps = max_steps

    def advance(self, job_id: str, ticks: int = 1) -> FakeJob:
        """Advance a job `ticks` ticks without HTTP (no request is recorded)."""
        with self._lock:
            job = self.jobs[job_id]
            for _ in range(ticks):
                self._tick(job)
            return job

    def complete(self, job_id: str) -> FakeJob:
        """Tick a job until it is succeeded, failed or cancelled."""
        with self._lock:
            job = self.jobs[job_id]
            while job.status not in TERMINAL_STATUSES:
                self._tick(job)
            return job

    # -- introspection ------------------------------------------------------------------------------------------

    def calls(self, method: str | None = None, path_contains: str | None = None) -> list[RecordedRequest]:
        """Recorded requests with this method and/or a path containing this text."""
        return [r for r in list(self.requests) if (method is None or r.method == method.upper())
                and (path_contains is None or path_contains in r.path)]

    def chat_calls(self, model: str | None = None) -> list[dict]:
        """Chat completion request bodies (arrival order) whose `model` field is `model` (all with None).
        For Azure requests the model is the deployment in the path; see `chat_counts` for that."""
        with self._lock:
            return [body for body in self.chat_requests if model is None or body.get("model") == model]

    def clear_requests(self) -> None:
        """Forget recorded requests, chat request bodies and chat counts."""
        with self._lock:
            self.requests.clear()
            self.chat_requests.clear()
            self.chat_counts.clear()

    # -- HTTP plumbing ------------------------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._counters[prefix]):024x}"

    @staticmethod
    def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
        if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(handler.rfile.read(size))
                handler.rfile.readline()
        length = int(handler.headers.get("Content-Length") or 0)
        return handler.rfile.read(length) if length else b""

    def _send(self, handler: BaseHTTPRequestHandler, status: int, payload: Any,
              headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, bytes):
            body, content_type = payload, "application/octet-stream"
        else:
            body, content_type = json.dumps(payload).encode("utf-8"), "application/json"
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("x-request-id", f"req_{next(self._counters['req']):032x}")
        handler.send_header("openai-organization", ORGANIZATION_NAME)
        handler.send_header("openai-version", "2020-10-01")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    def _take_rule(self, kind: str, method: str, path: str) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and rule.remaining > 0 and rule.matches(method, path):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def _authenticate(self, headers: Any) -> None:
        bearer = headers.get("Authorization", "")
        presented = [value for value in (bearer[7:].strip() if bearer.lower().startswith("bearer ") else None,
                                         headers.get("api-key")) if value]
        if self.api_key in presented:
            return
        if not presented:
            raise APIError(401, "You didn't provide an API key. You need to provide your API key in an "
                                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                           code="invalid_api_key")
        raise APIError(401, f"Incorrect API key provided: {mask_key(presented[0])}. You can find your API key at "
                            "https://platform.openai.com/account/api-keys.", code="invalid_api_key")

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        method = handler.command.upper()
        split = urlsplit(handler.path)
        path = unquote(split.path).rstrip("/") or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        body = self._read_body(handler)
        headers = {name.lower(): ("<redacted>" if name.lower() in SECRET_HEADERS else value)
                   for name, value in handler.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, headers))
        if self._take_rule("drop_before", method, path):
            handler.close_connection = True
            return
        rule = self._take_rule("respond", method, path)
        if rule is not None:
            self._send(handler, rule.status, rule.body, rule.headers)
            return
        try:
            prefix = next((p for p in API_PREFIXES if path == p or path.startswith(p + "/")), None)
            if prefix is None:
                raise APIError(404, f"Invalid URL ({method} {path})")
            if prefix == "/openai" and "api-version" not in query:
                raise APIError(404, "Resource not found", code="404")
            self._authenticate(handler.headers)
            with self._lock:
                status, payload = self._route(method, path[len(prefix):] or "/", query, body,
                                              handler.headers.get("Content-Type", ""))
            if callable(payload):  # work a handler left to be done outside the lock (scripted chat replies)
                payload = payload()
            extra: dict[str, str] = {}
        except APIError as exc:
            status, payload, extra = exc.status, exc.body, exc.headers
        except Exception as exc:  # noqa: BLE001 - a bug in the fake: visible to the client and in `errors`
            self.errors.append(f"{method} {path}: {exc!r}")
            status, payload, extra = 500, _error(f"fake_openai internal error: {exc!r}", "server_error"), {}
        if self._take_rule("drop_after", method, path):
            handler.close_connection = True
            return
        self._send(handler, status, payload, extra)

    _ROUTES: ClassVar[list[tuple[str, re.Pattern, str]]] = [
        (method, re.compile(pattern + r"\Z"), name) for method, pattern, name in (
            ("POST", r"/files", "create_file"),
            ("GET", r"/files", "list_files"),
            ("GET", r"/files/(?P<id>[^/]+)", "retrieve_file"),
            ("DELETE", r"/files/(?P<id>[^/]+)", "delete_file"),
            ("GET", r"/files/(?P<id>[^/]+)/content", "file_content"),
            ("POST", r"/fine_tuning/jobs", "create_job"),
            ("GET", r"/fine_tuning/jobs", "list_jobs"),
            ("GET", r"/fine_tuning/jobs/(?P<id>[^/]+)", "retrieve_job"),
            ("POST", r"/fine_tuning/jobs/(?P<id>[^/]+)/cancel", "cancel_job"),
            ("GET", r"/fine_tuning/jobs/(?P<id>[^/]+)/events", "list_events"),
            ("GET", r"/fine_tuning/jobs/(?P<id>[^/]+)/checkpoints", "list_checkpoints"),
            ("GET", r"/models", "list_models"),
            ("GET", r"/models/(?P<id>[^/]+)", "retrieve_model"),
            ("DELETE", r"/models/(?P<id>[^/]+)", "delete_model"),
            ("POST", r"/chat/completions", "chat_completions"),
            ("POST", r"/deployments/(?P<deployment>[^/]+)/chat/completions", "chat_completions"),
        )]

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes,
               content_type: str) -> tuple[int, Any]:
        for route_method, pattern, name in self._ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                handler = getattr(self, "_h_" + name)
                return 200, handler(query=query, body=body, content_type=content_type, **match.groupdict())
        raise APIError(404, f"Invalid URL ({method} {path})")

    # -- pagination ---------------------------------------------------------------------------------------------

    @staticmethod
    def _limit(query: dict[str, str], default: int, maximum: int) -> int:
        raw = query.get("limit")
        if raw is None:
            return default
        try:
            limit = int(raw)
        except ValueError:
            raise APIError(400, f"Invalid 'limit': expected an integer, got '{raw}'.", param="limit",
                           code="invalid_value") from None
        if not 1 <= limit <= maximum:
            raise APIError(400, f"Invalid 'limit': must be between 1 and {maximum}, got {limit}.", param="limit",
                           code="invalid_value")
        return limit

    @staticmethod
    def _page(items: list[dict], query: dict[str, str], limit: int, ids: bool = False) -> dict:
        """A cursor page of `items` (already in list order) after `query["after"]`."""
        after = query.get("after")
        if after:
            position = next((i for i, item in enumerate(items) if item["id"] == after), None)
            if position is None:
                raise APIError(400, f"Invalid 'after': no object with id '{after}' in this list.", param="after",
                               code="invalid_value")
            items = items[position + 1:]
        data = items[:limit]
        page = {"object": "list", "data": data, "has_more": len(items) > limit}
        if ids:
            page["first_id"] = data[0]["id"] if data else None
            page["last_id"] = data[-1]["id"] if data else None
        return page

    # -- files --------------------------------------------------------------------------------------------------

    def _file(self, file_id: str) -> FakeFile:
        found = self.files.get(file_id)
        if found is None:
            raise APIError(404, f"No such File object: {file_id}", param="id")
        return found

    def _add_file(self, content: bytes, filename: str, purpose: str, status: str) -> FakeFile:
        file_id = self._next_id("file")
        obj = {"id": file_id, "object": "file", "bytes": len(content), "created_at": self.clock(),
               "filename": filename, "purpose": purpose, "status": status, "status_details": None,
               "expires_at": None}
        self.files[file_id] = FakeFile(file_id, content, obj)
        return self.files[file_id]

    def _process_file(self, file: FakeFile) -> None:
        if file.object["status"] != "uploaded" or file.retrievals < self.file_ticks:
            return
        if file.problem:
            file.object.update(status="error", status_details=file.problem)
        else:
            file.object["status"] = "processed"

    def _h_create_file(self, body: bytes, content_type: str, **_: Any) -> dict:
        if not content_type.lower().startswith("multipart/form-data"):
            raise APIError(400, "Uploads must be multipart/form-data.", code="invalid_value")
        fields, files = parse_multipart(body, content_type)
        if "file" not in files:
            raise APIError(400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter")
        purpose = fields.get("purpose")
        if not purpose:
            raise APIError(400, "Missing required parameter: 'purpose'.", param="purpose",
                           code="missing_required_parameter")
        if purpose not in FILE_PURPOSES:
            raise APIError(400, f"'{purpose}' is not one of {list(FILE_PURPOSES)} - 'purpose'", param="purpose",
                           code="invalid_value")
        filename, _, content = files["file"]
        file = self._add_file(content, filename, purpose, "uploaded")
        if purpose == "fine-tune":
            file.examples, file.chars, file.problem = validate_chat_jsonl(content)
        self._process_file(file)  # file_ticks == 0: processed at once
        return file.object

    def _h_list_files(self, query: dict[str, str], **_: Any) -> dict:
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise APIError(400, f"Invalid 'order': expected 'asc' or 'desc', got '{order}'.", param="order",
                           code="invalid_value")
        items = [f.object for f in self.files.values()
                 if "purpose" not in query or f.object["purpose"] == query["purpose"]]
        if order == "desc":
            items.reverse()
        return self._page(items, query, self._limit(query, 10000, 10000), ids=True)

    def _h_retrieve_file(self, id: str, **_: Any) -> dict:
        file = self._file(id)
        file.retrievals += 1
        self._process_file(file)
        return file.object

    def _h_delete_file(self, id: str, **_: Any) -> dict:
        self._file(id)
        del self.files[id]
        return {"id": id, "object": "file", "deleted": True}

    def _h_file_content(self, id: str, **_: Any) -> bytes:
        return self._file(id).content

    # -- fine-tuning jobs ---------------------------------------------------------------------------------------

    def _job(self, job_id: str) -> FakeJob:
        found = self.jobs.get(job_id)
        if found is None:
            raise APIError(404, f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id")
        return found

    def _training_input(self, file_id: Any, param: str) -> FakeFile:
        """Create-time checks of training_file / validation_file (codes: invalid_file, file_not_ready)."""
        if not isinstance(file_id, str) or file_id not in self.files:
            raise APIError(400, f"invalid {param}: {file_id}", param=param, code="invalid_file")
        file = self.files[file_id]
        if file.object["purpose"] != "fine-tune":
            raise APIError(400, f"invalid {param}: {file_id} has purpose '{file.object['purpose']}', "
                                "expected 'fine-tune'", param=param, code="invalid_file")
        if file.status == "uploaded":
            raise APIError(400, f"File {file_id} is still being processed and is not ready to be used for "
                                "fine-tuning. Please try again later.", param=param, code="file_not_ready")
        if file.status == "error":
            raise APIError(400, f"invalid {param}: {file_id} failed validation: {file.object['status_details']}",
                           param=param, code="invalid_file")
        return file

    def _resolve_hyperparameters(self, given: Any) -> dict:
        """"auto" or absent values resolved; numbers range-checked (code invalid_value)."""
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise APIError(400, "Invalid 'hyperparameters': expected an object.", param="hyperparameters",
                           code="invalid_value")
        resolved = {}
        checks = {"n_epochs": (int, 1, 50), "batch_size": (int, 1, 256), "learning_rate_multiplier": (float, 0, 10)}
        for name, (kind, low, high) in checks.items():
            value = given.get(name, "auto")
            if value == "auto":
                resolved[name] = self.auto_hyperparameters[name]
                continue
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not numeric or (kind is int and not (float(value).is_integer() and low <= value <= high)) \
                    or (kind is float and not low < value <= high):
                raise APIError(400, f"Invalid '{name}': {value!r} is not 'auto' or a number in range.",
                               param=f"hyperparameters.{name}", code="invalid_value")
            resolved[name] = int(value) if kind is int else float(value)
        unknown = set(given) - set(checks)
        if unknown:
            raise APIError(400, f"Unknown hyperparameter(s): {', '.join(sorted(unknown))}.",
                           param="hyperparameters", code="unknown_parameter")
        return resolved

    def _h_create_job(self, body: bytes, **_: Any) -> dict:
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            raise APIError(400, "We could not parse the JSON body of your request. (HINT: This likely means you "
                                "aren't using your HTTP library correctly.)") from None
        if not isinstance(request, dict):
            raise APIError(400, "The request body must be a JSON object.")
        for required in ("model", "training_file"):
            if not request.get(required):
                raise APIError(400, f"Missing required parameter: '{required}'.", param=required,
                               code="missing_required_parameter")
        model = request["model"]
        if self.fine_tuning_closed is not None:
            raise APIError(403, self.fine_tuning_closed["message"], code=self.fine_tuning_closed["code"])
        if model not in self.base_models:
            raise APIError(400, f"Model {model} is not available for fine-tuning or does not exist.", param="model",
                           code="model_not_available")
        training = self._training_input(request["training_file"], "training_file")
        validation = (self._training_input(request["validation_file"], "validation_file")
                      if request.get("validation_file") else None)
        suffix = request.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            raise APIError(400, "Invalid 'suffix': expected a string of at most 64 characters.", param="suffix",
                           code="invalid_value")
        seed = request.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 2**31 - 1):
            raise APIError(400, "Invalid 'seed': expected an integer between 0 and 2147483647.", param="seed",
                           code="invalid_value")
        metadata = request.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16 or any(
                not isinstance(k, str) or not isinstance(v, str) or len(k) > 64 or len(v) > 512
                for k, v in metadata.items())):
            raise APIError(400, "Invalid 'metadata': at most 16 string keys (64 characters) with string values "
                                "(512 characters).", param="metadata", code="invalid_value")
        method = request.get("method")
        legacy = request.get("hyperparameters")
        if method is not None:
            if not isinstance(method, dict) or method.get("type") != "supervised":
                raise APIError(400, "Invalid 'method': this fake supports only {\"type\": \"supervised\"}.",
                               param="method.type", code="invalid_value")
            given = (method.get("supervised") or {}).get("hyperparameters")
            if legacy is not None and given is not None:
                raise APIError(400, "Specify hyperparameters either in 'method' or in the deprecated "
                                    "'hyperparameters', not both.", param="hyperparameters", code="invalid_value")
            given = given if given is not None else legacy
        else:
            given = legacy
        hyper = self._resolve_hyperparameters(given)

        job_id = self._next_id("ftjob")
        code = hashlib.sha1(job_id.encode()).hexdigest()[:8]
        if seed is None:
            seed = int(hashlib.sha1(b"seed:" + job_id.encode()).hexdigest()[:8], 16) % 2**31
        steps_per_epoch = math.ceil(training.examples / hyper["batch_size"])
        total_steps = max(1, min(self.max_steps, steps_per_epoch * hyper["n_epochs"]))
        epoch_ends = sorted({max(1, round(total_steps * e / hyper["n_epochs"])) for e in
                             range(1, hyper["n_epochs"] + 1)})
        now = self.clock()
        obj = {
            "object": "fine_tuning.job", "id": job_id, "created_at": now, "model": model,
            "training_file": training.id, "validation_file": validation.id if validation else None,
            "status": "validating_files", "fine_tuned_model": None, "finished_at": None, "error": None,
            "hyperparameters": dict(hyper),
            "method": {"type": "supervised", "supervised": {"hyperparameters": dict(hyper)}},
            "organization_id": ORGANIZATION_ID, "result_files": [], "seed": seed, "trained_tokens": None,
            "metadata": metadata, "estimated_finish": None, "integrations": request.get("integrations"),
            "user_provided_suffix": suffix,
        }
        job = FakeJob(job_id, request, obj, code, hyper, training.examples, math.ceil(training.chars / 4),
                      validation is not None, total_steps, epoch_ends, epoch_ends[-3:],
                      failure=self._failures.pop(0) if self._failures else None)
        self.jobs[job_id] = job
        self._event(job, f"Created fine-tuning job: {job_id}")
        self._event(job, f"Validating training file: {training.id}"
                         + (f" and validation file: {validation.id}" if validation else ""))
        return obj

    def _h_list_jobs(self, query: dict[str, str], **_: Any) -> dict:
        wanted = {key[len("metadata["):-1]: value for key, value in query.items()
                  if key.startswith("metadata[") and key.endswith("]")}
        null_metadata = query.get("metadata") == "null"
        items = []
        for job in reversed(list(self.jobs.values())):  # newest first
            metadata = job.object["metadata"]
            if null_metadata and metadata is not None:
                continue
            if wanted and (metadata is None or any(metadata.get(k) != v for k, v in wanted.items())):
                continue
            items.append(job.object)
        return self._page(items, query, self._limit(query, 20, 100))

    def _h_retrieve_job(self, id: str, **_: Any) -> dict:
        job = self._job(id)
        job.retrievals += 1
        self._tick(job)
        return job.object

    def _h_cancel_job(self, id: str, **_: Any) -> dict:
        job = self._job(id)
        if job.status in TERMINAL_STATUSES:
            raise APIError(400, f"Job {id} has already finished with status '{job.status}' and cannot be cancelled.",
                           param="fine_tuning_job_id", code="invalid_state")
        job.object.update(status="cancelled", estimated_finish=None)
        self._event(job, "Fine-tuning job cancelled")
        return job.object

    def _h_list_events(self, id: str, query: dict[str, str], **_: Any) -> dict:
        job = self._job(id)
        return self._page(list(reversed(job.events)), query, self._limit(query, 20, 10000))

    def _h_list_checkpoints(self, id: str, query: dict[str, str], **_: Any) -> dict:
        job = self._job(id)
        return self._page(list(reversed(job.checkpoints)), query, self._limit(query, 10, 10000), ids=True)

    # -- models -------------------------------------------------------------------------------------------------

    def _h_list_models(self, **_: Any) -> dict:
        return {"object": "list", "data": list(self.models.values())}

    def _h_retrieve_model(self, id: str, **_: Any) -> dict:
        if id not in self.models:
            raise APIError(404, f"The model '{id}' does not exist", param="model", code="model_not_found")
        return self.models[id]

    def _h_delete_model(self, id: str, **_: Any) -> dict:
        self._h_retrieve_model(id)
        if id in self.base_models:
            raise APIError(403, "You have insufficient permissions for this operation.", param="model",
                           code="permission_denied")
        del self.models[id]
        return {"id": id, "object": "model", "deleted": True}

    # -- chat completions ---------------------------------------------------------------------------------------

    @staticmethod
    def _optional_number(request: dict, name: str, kind: type, low: float, high: float) -> None:
        value = request.get(name)
        if value is None:
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
        if kind is int and ok:
            ok = isinstance(value, int) or float(value).is_integer()
        if not ok:
            raise APIError(400, f"Invalid '{name}': expected {'an integer' if kind is int else 'a number'} "
                                f"between {low:g} and {high:g}, got {value!r}.", param=name, code="invalid_value")

    def _h_chat_completions(self, body: bytes, deployment: str | None = None,
                            **_: Any) -> Callable[[], dict]:
        """Validate and record under the lock; the returned callable runs the script outside it.

        Error codes: missing_required_parameter (model, messages), invalid_type (messages), invalid_value
        (temperature, top_p, seed, max_tokens, max_completion_tokens, n), unsupported_value (n > 1, stream),
        model_not_found (no script for the model, 404).
        """
        try:
            request = json.loads(body or b"{}")
        except json.JSONDecodeError:
            raise APIError(400, "We could not parse the JSON body of your request. (HINT: This likely means you "
                                "aren't using your HTTP library correctly.)") from None
        if not isinstance(request, dict):
            raise APIError(400, "The request body must be a JSON object.")
        self.chat_requests.append(json.loads(json.dumps(request)))  # a copy the client cannot change
        model = deployment or request.get("model")
        if not model:
            raise APIError(400, "Missing required parameter: 'model'.", param="model",
                           code="missing_required_parameter")
        messages = request.get("messages")
        if messages is None:
            raise APIError(400, "Missing required parameter: 'messages'.", param="messages",
                           code="missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            raise APIError(400, "Invalid 'messages': expected a non-empty array.", param="messages",
                           code="invalid_type" if not isinstance(messages, list) else "invalid_value")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in MESSAGE_ROLES:
                raise APIError(400, f"Invalid 'messages[{index}]': expected an object with a role in "
                                    f"{', '.join(MESSAGE_ROLES)}.", param=f"messages[{index}]",
                               code="invalid_value")
        self._optional_number(request, "temperature", float, 0, 2)
        self._optional_number(request, "top_p", float, 0, 1)
        self._optional_number(request, "seed", int, -2**63, 2**63 - 1)
        self._optional_number(request, "max_tokens", int, 1, 2**31 - 1)
        self._optional_number(request, "max_completion_tokens", int, 1, 2**31 - 1)
        self._optional_number(request, "n", int, 1, 128)
        if request.get("n", 1) not in (None, 1):
            raise APIError(400, f"Unsupported value: 'n' must be 1 with this fake, got {request['n']}.",
                           param="n", code="unsupported_value")
        if request.get("stream"):
            raise APIError(400, "Unsupported value: 'stream' is not supported by this fake.", param="stream",
                           code="unsupported_value")
        script = self._chat_scripts.get(model)
        if script is None:
            raise APIError(404, f"The model `{model}` does not exist or you do not have access to it.",
                           code="model_not_found")
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        completion_id = self._next_id("chatcmpl")
        created = self.clock()

        def answer() -> dict:
            reply = script if isinstance(script, str) else script(messages)
            if not isinstance(reply, str):
                raise TypeError(f"the chat script of {model!r} returned {type(reply).__name__}, not str")
            usage = chat_usage(messages, reply)
            finish_reason = "stop"
            if limit is not None and usage["completion_tokens"] > limit:
                reply, finish_reason = reply[:int(limit) * 4], "length"
                usage["completion_tokens"] = int(limit)
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            with self._lock:
                self.chat_counts[model] += 1
            return {
                "id": completion_id, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply, "refusal": None},
                             "finish_reason": finish_reason, "logprobs": None}],
                "usage": usage, "system_fingerprint": SYSTEM_FINGERPRINT,
            }

        return answer

    # -- the job life cycle -------------------------------------------------------------------------------------

    def _event(self, job: FakeJob, message: str, level: str = "info", type_: str = "message",
               data: dict | None = None) -> None:
        job.events.append({"object": "fine_tuning.job.event", "id": self._next_id("ftevent"),
                           "created_at": self.clock(), "level": level, "message": message,
                           "data": data if data is not None else {}, "type": type_})

    def _model_name(self, job: FakeJob) -> str:
        return f"ft:{job.object['model']}:{ORGANIZATION_NAME}:{job.object['user_provided_suffix'] or ''}:{job.model_code}"

    def _fail(self, job: FakeJob, code: str, message: str, param: str | None) -> None:
        job.object.update(status="failed", error={"code": code, "message": message, "param": param},
                          estimated_finish=None)
        self._event(job, message, level="error")

    def _tick(self, job: FakeJob) -> None:
        """One step of the life cycle (see the class docstring for the pace)."""
        status = job.status
        if status in TERMINAL_STATUSES:
            return
        job.phase_ticks += 1
        if status == "validating_files":
            if job.phase_ticks < self.validating_ticks:
                return
            if job.examples < self.min_examples:
                self._fail(job, "invalid_training_file", f"The job failed due to an invalid training file. "
                           f"Training file has {job.examples} example(s), but must have at least "
                           f"{self.min_examples} examples", "training_file")
                return
            job.object["status"], job.phase_ticks = "queued", 0
            self._event(job, "Files validated, moving job to queued state")
        elif status == "queued":
            if job.phase_ticks < self.queued_ticks:
                return
            job.object["status"], job.phase_ticks = "running", 0
            job.object["estimated_finish"] = self.clock() + job.total_steps
            self._event(job, "Fine-tuning job started")
        else:  # running
            failure = job.failure
            limit = job.total_steps if failure is None else min(job.total_steps, failure["at_step"])
            for _ in range(min(self.steps_per_tick, limit - job.steps_done)):
                self._step(job)
            if failure is not None and job.steps_done >= failure["at_step"]:
                self._fail(job, failure["code"], failure["message"], failure["param"])
            elif job.steps_done >= job.total_steps:
                self._succeed(job)

    def _step(self, job: FakeJob) -> None:
        step = job.steps_done = job.steps_done + 1
        total = job.total_steps
        values = synthetic_metrics(step, total)
        validated = job.has_validation and (step % self.valid_every == 0 or step == total)
        data = {"step": step, "train_loss": values["train_loss"],
                "train_mean_token_accuracy": values["train_mean_token_accuracy"],
                "valid_loss": values["valid_loss"] if validated else None,
                "valid_mean_token_accuracy": values["valid_mean_token_accuracy"] if validated else None,
                "total_steps": total}
        job.metrics.append({"step": step, **values, "validated": validated})
        message = f"Step {step}/{total}: training loss={values['train_loss']:.4f}"
        if validated:
            message += f", validation loss={values['valid_loss']:.4f}"
        self._event(job, message, type_="metrics", data=data)
        if step in job.checkpoint_steps:
            name = f"{self._model_name(job)}:ckpt-step-{step}"
            checkpoint = {
                "object": "fine_tuning.job.checkpoint", "id": self._next_id("ftckpt"), "created_at": self.clock(),
                "fine_tuned_model_checkpoint": name, "fine_tuning_job_id": job.id, "step_number": step,
                "metrics": {"step": step, "train_loss": values["train_loss"],
                            "train_mean_token_accuracy": values["train_mean_token_accuracy"],
                            **{key: values[key] if job.has_validation else None for key in (
                                "valid_loss", "valid_mean_token_accuracy", "full_valid_loss",
                                "full_valid_mean_token_accuracy")}},
            }
            job.checkpoints.append(checkpoint)
            self.models[name] = {"id": name, "object": "model", "created": checkpoint["created_at"],
                                 "owned_by": ORGANIZATION_NAME}
            self._event(job, f"Checkpoint created at step {step}")
        if job.object["estimated_finish"] is not None:
            job.object["estimated_finish"] = self.clock() + total - step

    def result_csv(self, job: FakeJob) -> str:
        """The step_metrics.csv text of a job's steps so far."""
        lines = [RESULT_CSV_HEADER]
        for row in job.metrics:
            valid = (row["valid_loss"], row["valid_mean_token_accuracy"]) if row["validated"] else ("", "")
            lines.append(f"{row['step']},{row['train_loss']},{row['train_mean_token_accuracy']},{valid[0]},{valid[1]}")
        return "\n".join(lines) + "\n"

    def _succeed(self, job: FakeJob) -> None:
        name = self._model_name(job)
        csv_bytes = self.result_csv(job).encode("utf-8")
        if self.result_files_base64:
            csv_bytes = base64.b64encode(csv_bytes)
        result = self._add_file(csv_bytes, "step_metrics.csv", "fine-tune-results", "processed")
        now = self.clock()
        job.object.update(status="succeeded", fine_tuned_model=name, finished_at=now, estimated_finish=None,
                          trained_tokens=job.tokens_per_epoch * job.hyperparameters["n_epochs"],
                          result_files=[result.id])
        self.models[name] = {"id": name, "object": "model", "created": now, "owned_by": ORGANIZATION_NAME}
        self._event(job, "New fine-tuned model created")
        self._event(job, "The job has successfully completed")
