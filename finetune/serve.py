"""`python -m finetune serve`: an OpenAI-compatible endpoint on 127.0.0.1 for a local model folder.

The folder is a LoRA adapter (`adapter_config.json`: the base model it names is loaded and the adapter put on
it with peft), or a full or merged model (`config.json`). With vLLM installed and a GPU present, vLLM serves it
(`vllm serve`, the adapter as a LoRA module); otherwise a small transformers server does, implementing
`GET /v1/models` and `POST /v1/chat/completions` in OpenAI's JSON shape (`choices[0].message.content`,
`usage`), temperature 0 meaning greedy decoding, `max_tokens` honoured. One request generates at a time.

The served name is `--name`, else the `model_name` in the folder's `pinoloft.json` (what `finetune.models`
calls it, so `make evaluate MODELS="local=<name>"` and `job:<id>` find it), else the folder's name.

`background_server` serves a folder inside the calling process on a free loopback port with a key made for the
run, for as long as a `with` block lasts: how `evaluate` runs a local base model or a local job's adapter
(`make evaluate MODELS="base=<model dir> tuned=local:<job>"`) without a server started by hand.

What a client can cost the transformers server is bounded, since anything that reaches the port (another local
user, a browser page, the network when `--host` is not loopback) is a client:
- an optional API key, read from an environment variable (`PINOLOFT_SERVE_API_KEY` by default) or a file, never
  from argv (a command line is visible to every local user in `ps`): with one, `/v1/*` answers 401 unless the
  request carries `Authorization: Bearer <key>` (what the openai SDK sends for `OPENAI_API_KEY`); vLLM gets the
  key as `VLLM_API_KEY` in its environment;
- a body over `max_body_bytes` is answered 413 from its headers alone, unread; a body needs a Content-Length;
- `POST` needs `Content-Type: application/json`, which a browser page cannot send cross-origin without a CORS
  preflight that this server never grants; on a loopback address, a `Host` header naming another machine (a page
  reaching 127.0.0.1 through DNS rebinding) is refused;
- at most `max_connections` connections are served at once, each by one of as many worker threads started with
  the server; a connection beyond them waits up to `queue_wait` seconds in a queue of as many places for one to
  end, then gets a 503 (no thread per connection);
- a request (line, headers, body) must arrive within `request_timeout` seconds, so a slow client cannot hold a
  worker; malformed JSON, wrong field types and prompts longer than the model's context get a 400 in OpenAI's
  error shape, the connection staying usable.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import ipaddress
import json
import logging
import math
import os
import queue
import re
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from .errors import ContextLengthExceeded, LocalModelError, ServeError
from .local import MARKER, _imports, load_base, load_tokenizer, require_model_dir

__all__ = ["DEFAULT_API_KEY_ENV", "LoadedModel", "ServerLimits", "background_server", "load_model", "make_server",
           "read_api_key", "served_name", "vllm_available", "vllm_command", "vllm_environment", "warn_if_exposed",
           "serve"]

log = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "PINOLOFT_SERVE_API_KEY"
# After an answer given with the request body unread, how long the closing connection drains what the client
# still sends: closing a socket with unread input sends a reset, which can destroy the answer before it is read.
LINGER_SECONDS = 1.0


@dataclass(frozen=True)
class ServerLimits:
    """What one client may cost the transformers server."""

    # A chat request of this project is a few KiB; 1 MiB leaves room for long prompts (and is more text than the
    # context of the models served here holds).
    max_body_bytes: int = 1 << 20
    # Connections served at once, each by its own worker thread; generation itself is one at a time.
    max_connections: int = 8
    # Seconds for a request to arrive whole (request line, headers, body), and for an idle keep-alive
    # connection to send its next one.
    request_timeout: float = 30.0
    # Seconds a connection beyond max_connections waits (in a queue of as many places) for one to end before its
    # 503: a client that reconnects at once should not be refused for the moment a closing connection takes.
    queue_wait: float = 1.0

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1 or self.max_connections < 1 or not self.request_timeout > 0 \
                or not self.queue_wait >= 0:
            raise ValueError(f"server limits must be positive: {self}")


def read_api_key(env_name: str = DEFAULT_API_KEY_ENV, key_file: str | Path | None = None,
                 environ: Mapping[str, str] | None = None) -> str | None:
    """The key clients must present: the content of `key_file` when one is given, else the value of the
    environment variable `env_name`; None when neither is set (no key). Never from the command line, where every
    local user sees it (`ps`) and shell histories keep it. Surrounding whitespace (a file's newline) is dropped."""
    environ = os.environ if environ is None else environ
    if key_file is not None:
        path = Path(key_file)
        source = f"--api-key-file {path}"
        try:
            key = path.read_text(encoding="utf-8").strip()
            mode = path.stat().st_mode
        except (OSError, UnicodeDecodeError) as error:
            raise ServeError(f"{source}: cannot read the key ({error})") from None
        if mode & 0o077:
            log.warning("%s can be read by other users (mode %o): chmod 600 it", path, mode & 0o777)
    else:
        value = environ.get(env_name)
        if value is None:
            return None
        source, key = f"${env_name}", value.strip()
    if not key:
        raise ServeError(f"{source} is empty: put a key in it, or unset it to serve without one")
    if not all("!" <= character <= "~" for character in key):
        raise ServeError(f"{source}: the key must be printable ASCII without spaces (it travels in an HTTP header)")
    return key


def _loopback_literal(name: str) -> bool:
    """`localhost` or a loopback IP address, without asking DNS (whose answer an attacker may control)."""
    name = name.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _is_loopback_host(host: str) -> bool:
    """Whether `--host` binds only this machine's loopback interface (a name must resolve to loopback only)."""
    if _loopback_literal(host):
        return True
    if not host.strip():
        return False  # "" binds every interface
    try:
        ipaddress.ip_address(host.strip("[]"))
        return False  # an address, and not a loopback one
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(_loopback_literal(address) for address in addresses)


def warn_if_exposed(host: str, keyed: bool) -> bool:
    """Log a warning when `host` is reachable from other machines (louder without a key); True when it is."""
    if _is_loopback_host(host):
        return False
    if keyed:
        log.warning("serving on %s, reachable from other machines: requests need the API key, but travel over plain "
                    "HTTP (key and prompts in clear text on the network); bind 127.0.0.1 unless that is intended",
                    host or "every interface")
    else:
        log.warning("serving on %s WITHOUT AN API KEY: anyone who can reach this port can use the model; set "
                    "%s (or --api-key-file), or bind 127.0.0.1", host or "every interface", DEFAULT_API_KEY_ENV)
    return True


def served_name(folder: Path, name: str | None = None) -> str:
    if name:
        return name
    marker = folder / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text())["model_name"]
        except (ValueError, KeyError):
            pass
    return folder.name


def _adapter_base(folder: Path) -> Path:
    try:
        config = json.loads((folder / "adapter_config.json").read_text())
    except ValueError as error:
        raise LocalModelError(f"{folder / 'adapter_config.json'}: not valid JSON ({error})") from None
    base = config.get("base_model_name_or_path")
    if not base:
        raise LocalModelError(f"{folder / 'adapter_config.json'} names no base model (base_model_name_or_path)")
    return require_model_dir(base, what=f"base model of the adapter {folder}")


class LoadedModel:
    """A causal LM and its tokenizer, ready to answer chat completions."""

    def __init__(self, model, tokenizer, name: str, max_new_tokens_cap: int | None = None) -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.max_new_tokens_cap = max_new_tokens_cap
        self.lock = threading.Lock()

    def complete(self, messages: list[dict], *, temperature: float = 1.0, top_p: float = 1.0,
                 max_tokens: int | None = None, seed: int | None = None) -> tuple[str, int, int, str]:
        """(text, prompt tokens, completion tokens, finish reason)."""
        import torch

        # Tokenizing under the lock too: a fast tokenizer shared between threads can fail ("Already borrowed").
        with self.lock, torch.no_grad():
            prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            encoded = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(self.model.device)
            prompt_tokens = int(encoded["input_ids"].shape[1])
            limit = max_tokens or 1024
            if self.max_new_tokens_cap:
                limit = min(limit, self.max_new_tokens_cap)
            context = getattr(self.model.config, "max_position_embeddings", None)
            if context:
                # Beyond its context a model's attention still runs, in memory quadratic in the prompt: refuse.
                if prompt_tokens >= context:
                    raise ContextLengthExceeded(f"the prompt is {prompt_tokens} tokens; this model's context is "
                                                f"{context}, and at least one must be left to answer")
                limit = max(1, min(limit, context - prompt_tokens))
            options: dict[str, Any] = {"max_new_tokens": limit, "pad_token_id": self.tokenizer.pad_token_id,
                                       "eos_token_id": self.tokenizer.eos_token_id}
            if temperature and temperature > 0:
                options.update(do_sample=True, temperature=float(temperature), top_p=float(top_p))
            else:
                options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if seed is not None:
                torch.manual_seed(seed)
            output = self.model.generate(**encoded, **options)
        generated = output[0, prompt_tokens:].tolist()
        eos = self.tokenizer.eos_token_id
        finish = "stop" if generated and generated[-1] == eos else ("length" if len(generated) >= limit else "stop")
        text = self.tokenizer.decode(generated, skip_special_tokens=True).strip()
        return text, prompt_tokens, len(generated), finish


def load_model(model_dir: str | Path, name: str | None = None, max_new_tokens_cap: int | None = None) -> LoadedModel:
    """An adapter folder (base + adapter via peft) or a full/merged model folder; local files only."""
    _imports()
    folder = require_model_dir(model_dir, what="model folder")
    if (folder / "adapter_config.json").is_file():
        from peft import PeftModel

        base_dir = _adapter_base(folder)
        tokenizer_dir = folder if (folder / "tokenizer_config.json").is_file() else base_dir
        tokenizer = load_tokenizer(tokenizer_dir)
        try:
            model = PeftModel.from_pretrained(load_base(base_dir), str(folder), local_files_only=True)
        except (OSError, ValueError) as error:
            raise LocalModelError(f"{folder}: cannot load the adapter ({error})") from None
    else:
        tokenizer = load_tokenizer(folder)
        model = load_base(folder)
    import torch

    if torch.cuda.is_available():
        model.to("cuda")
    model.eval()
    return LoadedModel(model, tokenizer, served_name(folder, name), max_new_tokens_cap)


class _Rejected(Exception):
    """A request answered with an OpenAI-shaped error instead of a completion."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status = message, param, code, status


@dataclass(frozen=True)
class _ChatRequest:
    messages: list[dict[str, str]]
    temperature: float
    top_p: float
    max_tokens: int | None
    seed: int | None
    stop: list[str]


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _number(body: dict, name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise _Rejected(f"{name} must be a number from {low:g} to {high:g}, not {json.dumps(value)[:40]}", name)
    return float(value)


def _integer(body: dict, name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Rejected(f"{name} must be an integer from {low} to {high}, not {json.dumps(value)[:40]}", name)
    return value


def _chat_request(raw: bytes, served: str) -> _ChatRequest:
    """The body of a chat completion request, checked field by field; _Rejected says what is wrong."""
    if not raw:
        raise _Rejected("the body is empty: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _Rejected(f"the body is not valid UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise _Rejected("the body is not valid JSON (nested too deeply)") from None
    except ValueError as error:
        raise _Rejected(f"the body is not valid JSON ({error})") from None
    if not isinstance(body, dict):
        raise _Rejected(f"the body must be a JSON object, not {type(body).__name__}")
    model = body.get("model")
    if not isinstance(model, str):
        raise _Rejected("model must be a string naming the served model", "model")
    if model != served:
        raise _Rejected(f"The model `{model[:100]}` does not exist (this server has {served})", "model",
                        "model_not_found", status=404)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role", "user"), str)
            for m in messages):
        raise _Rejected("messages must be a non-empty list of {role, content} with string content", "messages")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _Rejected("stream must be true or false", "stream")
    if stream:
        raise _Rejected("stream is not supported by this server", "stream")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise _Rejected("only n=1 is supported", "n")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if stop is not None else []
    if not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) for s in stops):
        raise _Rejected("stop must be a string or a list of at most 4 strings", "stop")
    max_tokens = _integer(body, "max_completion_tokens", 1, 2**31 - 1)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", 1, 2**31 - 1)
    temperature = _number(body, "temperature", 0, 2)
    top_p = _number(body, "top_p", 0, 1)
    return _ChatRequest(
        messages=[{"role": m.get("role", "user"), "content": m["content"]} for m in messages],
        temperature=1.0 if temperature is None else temperature, top_p=top_p or 1.0, max_tokens=max_tokens,
        seed=_integer(body, "seed", -(2**63), 2**64 - 1), stop=stops)


def _error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
                code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _linger(connection: socket.socket, seconds: float = LINGER_SECONDS) -> None:
    """Stop sending, then read and drop what the client still sends for up to `seconds` (never kept: memory
    stays flat), so that the close does not reset the connection before the client has read the answer."""
    try:
        connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            connection.settimeout(remaining)
            if not connection.recv(65536):
                break
    except OSError:
        pass


class _DeadlineReader(io.RawIOBase):
    """The socket's input, each read bounded by the deadline of the request being received: a client sending a
    byte now and then cannot hold a worker longer than the request timeout."""

    def __init__(self, connection: socket.socket) -> None:
        super().__init__()
        self.connection = connection
        self.deadline = math.inf

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.connection.settimeout(remaining)
        return self.connection.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"
    server_version = "pinoloft-serve"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)
        self.body_unread = False

    def handle_one_request(self) -> None:
        # the clock starts when the server waits for a request (an idle keep-alive connection counts too)
        self.reader.deadline = time.monotonic() + self.server.limits.request_timeout
        super().handle_one_request()

    def finish(self) -> None:
        super().finish()
        if self.body_unread:
            _linger(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: dict, headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(body).encode()
        self.connection.settimeout(self.server.limits.request_timeout)  # a client that does not read is let go
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, param: str | None = None, code: str | None = None,
               headers: tuple[tuple[str, str], ...] = ()) -> None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        self._send(status, _error_body(message, kind, param, code), headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's errors (malformed request line or headers, unknown method), as JSON and closing."""
        self.close_connection = True
        self.body_unread = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._error(code, message or phrase)

    def _refuse_unread(self, status: int, message: str, code: str | None = None) -> None:
        """An answer given with the body left unread: the connection cannot carry another request."""
        self.close_connection = True
        self.body_unread = True
        self._error(status, message, code=code)

    def _body_length(self) -> int | None:
        """The declared body size, or None once a 411, 400 or 413 is sent (the body unread)."""
        limit = self.server.limits.max_body_bytes
        if self.headers.get("Transfer-Encoding") is not None:
            self._refuse_unread(411, "send the body with a Content-Length (no Transfer-Encoding)")
            return None
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if not values:
            self._refuse_unread(411, "a Content-Length header is required")
            return None
        value = values.pop()
        if values or not re.fullmatch(r"[0-9]{1,18}", value):
            self._refuse_unread(400, "the Content-Length header is not one number")
            return None
        if int(value) > limit:
            self._refuse_unread(413, f"the body is {int(value)} bytes; this server accepts at most {limit} "
                                     "(--max-body-bytes)", code="request_too_large")
            return None
        return int(value)

    def _discard_body(self, length: int) -> None:
        """Read and drop a body within the limit, so that the connection can carry the next request."""
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                self.close_connection = True
                return
            length -= len(chunk)

    def _admitted(self, path: str) -> bool:
        """The Host and key checks; when one fails, its answer is sent and False returned."""
        host = self.headers.get("Host")
        if self.server.loopback and host is not None and not _loopback_literal(_host_name(host)):
            self._error(403, f"Host {host[:100]!r} is not this server: it serves loopback clients only",
                        code="host_not_allowed")
            return False
        if not path.startswith("/v1") or self.server.api_key is None:
            return True
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        # compare_digest takes as long wherever the two differ: the key cannot be guessed byte by byte by timing
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("latin-1"), self.server.api_key):
            return True
        self._error(401, "Incorrect or missing API key: send it as `Authorization: Bearer <key>`",
                    code="invalid_api_key", headers=(("WWW-Authenticate", 'Bearer realm="pinoloft"'),))
        return False

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        if self.headers.get("Transfer-Encoding") is not None or \
                (self.headers.get("Content-Length") or "0").strip() != "0":
            self.close_connection = self.body_unread = True  # a GET body is never read
        if not self._admitted(path):
            return
        model = self.server.model
        card = {"id": model.name, "object": "model", "created": self.server.created, "owned_by": "pinoloft"}
        if path == "/v1/models":
            self._send(200, {"object": "list", "data": [card]})
        elif path == f"/v1/models/{model.name}":
            self._send(200, card)
        elif path in ("/health", ""):
            self._send(200, {"status": "ok"})
        else:
            self._error(404, f"no route GET {path}")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        length = self._body_length()
        if length is None:
            return
        if not self._admitted(path):
            self._discard_body(length)  # after the answer: an unauthenticated body is never parsed
            return
        if path != "/v1/chat/completions":
            self._discard_body(length)
            self._error(404, f"no route POST {path}")
            return
        if self.headers.get_content_type() != "application/json":
            # a browser page can send text/plain and form bodies cross-origin without asking; JSON it cannot
            self._discard_body(length)
            self._error(415, f"Content-Type must be application/json, not {self.headers.get_content_type()}",
                        code="unsupported_media_type")
            return
        raw = self.rfile.read(length)
        if len(raw) < length:
            self.close_connection = True  # the client hung up mid-body
            return
        model = self.server.model
        try:
            request = _chat_request(raw, model.name)
            text, prompt_tokens, completion_tokens, finish = model.complete(
                request.messages, temperature=request.temperature, top_p=request.top_p,
                max_tokens=request.max_tokens, seed=request.seed)
        except _Rejected as rejected:
            self._error(rejected.status, rejected.message, rejected.param, rejected.code)
            return
        except ContextLengthExceeded as error:
            self._error(400, str(error), "messages", "context_length_exceeded")
            return
        except Exception as error:  # one bad request must not end the server
            log.exception("generation failed")
            self._error(500, f"generation failed: {error}")
            return
        for stop in request.stop:
            if stop and stop in text:
                text, finish = text[: text.index(stop)], "stop"
        self._send(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model.name, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                         "logprobs": None, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })


def _host_name(header: str) -> str:
    """The name in a Host header, without its port."""
    header = header.strip()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Server(HTTPServer):
    """An HTTP server with a fixed pool of workers, one per admitted connection, and a 503 beyond them."""

    def __init__(self, address: tuple[str, int], model: LoadedModel, api_key: str | None,
                 limits: ServerLimits) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.request_queue_size = max(5, limits.max_connections)  # the listen backlog
        super().__init__(address, _Handler)
        self.model, self.limits = model, limits
        self.api_key = None if api_key is None else api_key.encode("ascii")
        self.created = int(time.time())
        self.loopback = _loopback_literal(str(self.server_address[0]))
        self._slots = threading.BoundedSemaphore(limits.max_connections)
        self._admitted: queue.SimpleQueue = queue.SimpleQueue()
        # connections beyond the cap wait here for a slot, then get their 503; beyond as many, one is closed at once
        self._waiting: queue.Queue = queue.Queue(maxsize=limits.max_connections)
        body = json.dumps(_error_body(f"the server is serving its maximum of {limits.max_connections} connections "
                                      "(--max-connections): retry shortly", "server_error",
                                      code="server_busy")).encode()
        self._busy = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        self._workers = [threading.Thread(target=self._serve_admitted, name=f"pinoloft-serve-{index}", daemon=True)
                         for index in range(limits.max_connections)]
        self._workers.append(threading.Thread(target=self._admit_or_refuse_waiting, name="pinoloft-serve-queue",
                                              daemon=True))
        for worker in self._workers:
            worker.start()
        warn_if_exposed(str(self.server_address[0]), keyed=api_key is not None)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"

    def process_request(self, request, client_address) -> None:
        """Called by the accepting thread: hand the connection to a worker, or to the waiting queue."""
        if self._slots.acquire(blocking=False):
            self._admitted.put((request, client_address))
            return
        try:
            self._waiting.put_nowait((request, client_address, time.monotonic() + self.limits.queue_wait))
        except queue.Full:
            try:  # the 503 without waiting: a fresh socket's send buffer takes it whole, or it is dropped
                request.setblocking(False)
                request.send(self._busy)
            except OSError:
                pass
            self.shutdown_request(request)

    def _serve_admitted(self) -> None:
        while (item := self._admitted.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                self._slots.release()

    def _admit_or_refuse_waiting(self) -> None:
        while (item := self._waiting.get()) is not None:
            request, client_address, deadline = item
            if self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                self._admitted.put((request, client_address))
                continue
            try:
                request.settimeout(LINGER_SECONDS)
                request.sendall(self._busy)
                request.shutdown(socket.SHUT_WR)
                # drop what the client has sent already (its request, after the wait), without waiting for more:
                # closing with unread input would reset the connection and could destroy the 503
                request.setblocking(False)
                while request.recv(65536):
                    pass
            except OSError:  # BlockingIOError included: nothing more to read now
                pass
            finally:
                self.shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        # a client that resets or vanishes is routine; the base class would print a traceback to stderr
        log.debug("connection from %s ended in error", client_address, exc_info=True)

    def server_close(self) -> None:
        super().server_close()
        for _ in range(self.limits.max_connections):
            self._admitted.put(None)
        self._waiting.put(None)

    def join_workers(self, timeout: float) -> list[str]:
        """After `server_close()`: wait up to `timeout` seconds in all for the worker threads to end (a worker
        still serving a connection ends when the client closes it, or at the request timeout); the names of
        those still alive."""
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return [worker.name for worker in self._workers if worker.is_alive()]


def make_server(model: LoadedModel, host: str = "127.0.0.1", port: int = 8000, *, api_key: str | None = None,
                limits: ServerLimits | None = None) -> _Server:
    """A bound (not yet serving) server; port 0 picks a free one (see `.base_url`). Its workers start now:
    `server_close()` ends them. A warning is logged when the address is reachable from other machines."""
    return _Server((host, port), model, api_key, limits or ServerLimits())


@contextlib.contextmanager
def background_server(model_dir: str | Path, name: str | None = None, *, max_new_tokens: int | None = None,
                      limits: ServerLimits | None = None) -> Iterator[_Server]:
    """The folder served in this process (transformers) on a free port of 127.0.0.1, with an API key made for it
    (`server.api_key`, never in the environment, argv or a file), while the block runs: what `evaluate` starts
    for a local model. Leaving the block, also by an exception or Ctrl-C, stops it: the port is closed, the
    accepting and worker threads end (clients must have closed their connections: a worker still serving one
    is waited for up to the request timeout) and the model is released."""
    model = load_model(model_dir, name, max_new_tokens)
    server = make_server(model, "127.0.0.1", 0, api_key=secrets.token_urlsafe(32), limits=limits)
    accepting = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                 name=f"pinoloft-serve-accept-{server.server_address[1]}", daemon=True)
    accepting.start()
    log.info("serving %s as %s at %s (for this run only)", model_dir, model.name, server.base_url)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        accepting.join()
        alive = server.join_workers(server.limits.request_timeout + 1.0)
        if alive:
            log.warning("the server of %s stopped, but %d worker thread(s) still end a connection", model.name,
                        len(alive))
        server.model = None  # the weights go with the last reference: several models in turn need not fit at once
        del model
        _release_memory()
        log.info("stopped the server of %s", model_dir)


def _release_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def vllm_available() -> bool:
    """Whether `vllm serve` can run here: vLLM on the PATH and a GPU visible to torch."""
    if shutil.which("vllm") is None:
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def vllm_command(model_dir: Path, name: str, host: str, port: int) -> list[str]:
    """The `vllm serve` command for the folder. It never carries the API key (see `vllm_environment`)."""
    folder = require_model_dir(model_dir, what="model folder")
    command = ["vllm", "serve"]
    if (folder / "adapter_config.json").is_file():
        config = json.loads((folder / "adapter_config.json").read_text())
        command += [str(_adapter_base(folder)), "--enable-lora", "--lora-modules", f"{name}={folder}",
                    "--max-lora-rank", str(max(8, int(config.get("r") or 8)))]
    else:
        command += [str(folder), "--served-model-name", name]
    return command + ["--host", host, "--port", str(port)]


def vllm_environment(api_key: str | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for `vllm serve`: vLLM reads its key from VLLM_API_KEY (as from its --api-key, which would
    show the key in `ps`). Without a key, the environment as it is (a VLLM_API_KEY already set still applies)."""
    environment = dict(os.environ if environ is None else environ)
    if api_key is not None:
        environment["VLLM_API_KEY"] = api_key
    return environment


def serve(model_dir: str | Path, *, name: str | None = None, host: str = "127.0.0.1", port: int = 8000,
          engine: str = "auto", max_new_tokens: int | None = None, api_key: str | None = None,
          limits: ServerLimits | None = None) -> int:
    """Serve until interrupted (vLLM replaces this process when it is used). `api_key`: see `read_api_key`."""
    folder = require_model_dir(model_dir, what="model folder")
    served = served_name(folder, name)
    if engine in ("auto", "vllm"):
        if vllm_available():
            command = vllm_command(folder, served, host, port)
            warn_if_exposed(host, keyed=api_key is not None)
            log.info("serving %s as %s with vLLM%s: %s", folder, served, " (API key in VLLM_API_KEY)" if api_key
                     else "", " ".join(command))
            os.execvpe(command[0], command, vllm_environment(api_key))
        if engine == "vllm":
            raise LocalModelError("--engine vllm: vLLM is not installed or no GPU is visible")
    model = load_model(folder, served, max_new_tokens)
    server = make_server(model, host, port, api_key=api_key, limits=limits)
    print(f"serving {folder} as {served} at {server.base_url} (transformers); OPENAI_BASE_URL={server.base_url} "
          + ("OPENAI_API_KEY=<the server's key>" if api_key else "OPENAI_API_KEY=anything"), flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
