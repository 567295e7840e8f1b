"""`python -m finetune serve`: an OpenAI-compatible endpoint on 127.0.0.1 for a local model folder.

The folder is a LoRA adapter (`adapter_config.json`: the base model it names is loaded and the adapter put on
it with peft), or a full or merged model (`config.json`). With vLLM installed and a GPU present, vLLM serves it
(`vllm serve`, the adapter as a LoRA module); otherwise a small transformers server does, implementing
`GET /v1/models` and `POST /v1/chat/completions` in OpenAI's JSON shape (`choices[0].message.content`,
`usage`), temperature 0 meaning greedy decoding, `max_tokens` honoured. One request generates at a time.

The served name is `--name`, else the `model_name` in the folder's `pinoloft.json` (what `finetune.models`
calls it, so `make evaluate MODELS="local=<name>"` and `job:<id>` find it), else the folder's name.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .errors import LocalModelError
from .local import MARKER, _imports, load_base, load_tokenizer, require_model_dir

__all__ = ["LoadedModel", "load_model", "make_server", "served_name", "vllm_command", "serve"]

log = logging.getLogger(__name__)


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

        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        encoded = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").to(self.model.device)
        prompt_tokens = int(encoded["input_ids"].shape[1])
        limit = max_tokens or 1024
        if self.max_new_tokens_cap:
            limit = min(limit, self.max_new_tokens_cap)
        context = getattr(self.model.config, "max_position_embeddings", None)
        if context:
            limit = max(1, min(limit, context - prompt_tokens))
        options: dict[str, Any] = {"max_new_tokens": limit, "pad_token_id": self.tokenizer.pad_token_id,
                                   "eos_token_id": self.tokenizer.eos_token_id}
        if temperature and temperature > 0:
            options.update(do_sample=True, temperature=float(temperature), top_p=float(top_p))
        else:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with self.lock, torch.no_grad():
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


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                      "code": code}})

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
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
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path != "/v1/chat/completions":
            self._error(404, f"no route POST {path}")
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._error(400, "the body is not valid JSON")
            return
        model = self.server.model
        if body.get("model") != model.name:
            self._error(404, f"The model `{body.get('model')}` does not exist (this server has {model.name})",
                        "model", "model_not_found")
            return
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
            self._error(400, "messages must be a non-empty list of {role, content} with string content", "messages")
            return
        if body.get("stream"):
            self._error(400, "stream is not supported by this server", "stream")
            return
        if (body.get("n") or 1) != 1:
            self._error(400, "only n=1 is supported", "n")
            return
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        temperature = body.get("temperature")
        try:
            text, prompt_tokens, completion_tokens, finish = model.complete(
                [{"role": m.get("role", "user"), "content": m["content"]} for m in messages],
                temperature=1.0 if temperature is None else float(temperature),
                top_p=float(body.get("top_p") or 1.0), max_tokens=int(max_tokens) if max_tokens else None,
                seed=body.get("seed"))
        except Exception as error:  # one bad request must not end the server
            log.exception("generation failed")
            self._send(500, {"error": {"message": f"generation failed: {error}", "type": "server_error",
                                       "param": None, "code": None}})
            return
        for stop in ([body["stop"]] if isinstance(body.get("stop"), str) else body.get("stop") or []):
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], model: LoadedModel) -> None:
        super().__init__(address, _Handler)
        self.model = model
        self.created = int(time.time())

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


def make_server(model: LoadedModel, host: str = "127.0.0.1", port: int = 8000) -> _Server:
    """A bound (not yet serving) server; port 0 picks a free one (see `.base_url`)."""
    return _Server((host, port), model)


def vllm_command(model_dir: Path, name: str, host: str, port: int) -> list[str] | None:
    """The `vllm serve` command for the folder when vLLM and a GPU are there, else None."""
    if shutil.which("vllm") is None:
        return None
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    folder = require_model_dir(model_dir, what="model folder")
    command = ["vllm", "serve"]
    if (folder / "adapter_config.json").is_file():
        config = json.loads((folder / "adapter_config.json").read_text())
        command += [str(_adapter_base(folder)), "--enable-lora", "--lora-modules", f"{name}={folder}",
                    "--max-lora-rank", str(max(8, int(config.get("r") or 8)))]
    else:
        command += [str(folder), "--served-model-name", name]
    return command + ["--host", host, "--port", str(port)]


def serve(model_dir: str | Path, *, name: str | None = None, host: str = "127.0.0.1", port: int = 8000,
          engine: str = "auto", max_new_tokens: int | None = None) -> int:
    """Serve until interrupted (vLLM replaces this process when it is used)."""
    folder = require_model_dir(model_dir, what="model folder")
    served = served_name(folder, name)
    if engine in ("auto", "vllm"):
        command = vllm_command(folder, served, host, port)
        if command is not None:
            import os

            log.info("serving %s as %s with vLLM: %s", folder, served, " ".join(command))
            os.execvp(command[0], command)
        if engine == "vllm":
            raise LocalModelError("--engine vllm: vLLM is not installed or no GPU is visible")
    model = load_model(folder, served, max_new_tokens)
    server = make_server(model, host, port)
    print(f"serving {folder} as {served} at {server.base_url} (transformers); "
          f"OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=anything", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
