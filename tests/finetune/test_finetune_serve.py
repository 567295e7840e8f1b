"""The transformers model server under hostile clients, over real HTTP with a tiny model built here (no download).

One server runs as `python -m finetune serve` in a child process (its memory and thread count are read from /proc)
with an API key in its environment and a cap of 2 connections; a second, without a key, runs in this process for
the timeout, browser and warning checks. Each test sends what the issue's attacker sent: no or a wrong key, a
300 MB Content-Length, a text/plain body, malformed JSON, more connections than the cap, a slow client, a
rebinding Host header."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import openai  # noqa: E402

from finetune.cli import main  # noqa: E402
from finetune.errors import ServeError  # noqa: E402
from finetune.serve import (ServerLimits, background_server, load_model, make_server, read_api_key,  # noqa: E402
                            vllm_command, vllm_environment)
from test_finetune_local import build_tiny_model  # noqa: E402

KEY = "pl-test-9f2c1e7a5b3d4c6e8a0b"
NAME = "tiny"
MAX_CONNECTIONS = 2
QUEUE_WAIT = 2.0  # seconds a connection beyond the cap waits for a slot before its 503
TEXTS = ["You mutate SQL queries.", "SELECT * FROM t WHERE c > 1", "SELECT a , b FROM t1 JOIN t2 ON t1 . a = t2 . a"]
REPO = Path(__file__).parents[2]


def _chat(content: str = "SELECT * FROM t") -> dict:
    return {"model": NAME, "temperature": 0, "max_tokens": 3, "messages": [{"role": "user", "content": content}]}


def _proc_status(pid: int, field: str) -> int:
    """A number from /proc/<pid>/status (Threads, VmHWM in kB: the peak resident set)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _raw(port: int, head: str, body: bytes = b"", timeout: float = 20) -> tuple[int, dict[str, str], dict]:
    """One request written byte for byte (headers exactly as given) on a fresh connection; its JSON answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        status, headers, data = _read_response(sock)
    return status, headers, json.loads(data)


class _Served:
    def __init__(self, process: subprocess.Popen, base_url: str) -> None:
        self.process, self.base_url = process, base_url
        self.port = int(base_url.rsplit(":", 1)[1].split("/")[0])

    def connection(self) -> contextlib.closing[http.client.HTTPConnection]:
        return contextlib.closing(http.client.HTTPConnection("127.0.0.1", self.port, timeout=30))

    def request(self, connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict]:
        connection.request(method, path, body=body, headers={"Authorization": f"Bearer {KEY}", **(headers or {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(response.read())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("serve") / "tiny-llama", TEXTS)


@pytest.fixture(scope="module")
def served(model_dir, tmp_path_factory):
    """`python -m finetune serve` in a child process, the key in its environment only; stopped at the end."""
    log_file = tmp_path_factory.mktemp("serve-log") / "stderr.txt"
    environment = {**os.environ, "PINOLOFT_SERVE_API_KEY": KEY}
    command = [sys.executable, "-m", "finetune", "serve", "--model-dir", str(model_dir), "--name", NAME,
               "--port", "0", "--engine", "transformers", "--max-new-tokens", "3",
               "--max-connections", str(MAX_CONNECTIONS), "--request-timeout", "60", "--queue-wait", str(QUEUE_WAIT)]
    with log_file.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=stderr)
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        line = b""
        deadline = time.monotonic() + 300
        while b"\n" not in line and time.monotonic() < deadline and process.poll() is None:
            if selector.select(timeout=1):
                line += os.read(process.stdout.fileno(), 4096)
        assert b" at http://" in line, f"the server did not start: {line!r}\n{log_file.read_text()}"
        assert KEY.encode() not in line  # the key is never printed
        assert KEY not in " ".join(command)
        server = _Served(process, line.split(b" at ")[1].split()[0].decode())
        # a first completion, so that torch has started the threads it keeps before any count is taken
        with server.connection() as connection:
            assert server.request(connection, "POST", "/v1/chat/completions", json.dumps(_chat()).encode(),
                                  {"Content-Type": "application/json"})[0] == 200
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def tiny(model_dir):
    return load_model(model_dir, NAME, max_new_tokens_cap=3)


@pytest.fixture
def local_server(tiny):
    """An in-process server without a key, 1 connection at a time, 1 s to receive a request (the next connection
    waits up to 5 s for the previous one's slot)."""
    server = make_server(tiny, port=0, limits=ServerLimits(max_connections=1, request_timeout=1.0, queue_wait=5.0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_key_is_required_and_the_sdk_sends_it(served, monkeypatch):
    with openai.OpenAI(base_url=served.base_url, api_key="wrong-key", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as refused:
            client.chat.completions.create(**_chat())
        assert refused.value.status_code == 401 and refused.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            client.models.list()
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
    body = json.dumps(_chat()).encode()
    for authorization in ("", f"\r\nAuthorization: Basic {KEY}", f"\r\nAuthorization: Bearer {KEY[:-1]}",
                          f"\r\nAuthorization: Bearer {KEY}x"):
        status, headers, answer = _raw(served.port, f"{head}{authorization}\r\nContent-Length: {len(body)}", body)
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        assert answer["error"]["code"] == "invalid_api_key" and answer["error"]["type"] == "invalid_request_error"
    assert _raw(served.port, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1")[0] == 401
    status, _, answer = _raw(served.port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1")
    assert (status, answer) == (200, {"status": "ok"})  # the health check needs no key
    # the right key, the way `make evaluate` passes it: OPENAI_API_KEY in the environment
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with openai.OpenAI(base_url=served.base_url, max_retries=0) as client:
        assert [card.id for card in client.models.list().data] == [NAME]
        answer = client.chat.completions.create(**_chat())
    assert isinstance(answer.choices[0].message.content, str) and answer.choices[0].message.role == "assistant"
    assert answer.model == NAME and answer.object == "chat.completion"
    assert 0 < answer.usage.completion_tokens <= 3
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_an_oversized_body_is_refused_from_its_headers(served):
    """300 MB announced, nothing sent: the 413 comes at once; what is sent after it is drained, never held."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=20) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n".encode())
        status, headers, data = _read_response(sock)  # the old server waited here for 300 MB
        assert status == 413 and headers["connection"] == "close"
        error = json.loads(data)["error"]
        assert error["code"] == "request_too_large" and "300000000" in error["message"]
        peak_before = _proc_status(served.process.pid, "VmHWM")
        chunk = b"x" * (1 << 20)
        sent = 0
        try:
            for _ in range(64):
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closes after its moment of draining
    growth_kib = _proc_status(served.process.pid, "VmHWM") - peak_before
    print(f"\nsent {sent >> 20} MiB after the 413; server peak RSS grew {growth_kib} KiB")
    assert growth_kib < 8 * 1024
    for head, code in (("Transfer-Encoding: chunked", 411), ("", 411), ("Content-Length: -1", 400),
                       ("Content-Length: 12abc", 400), ("Content-Length: 5\r\nContent-Length: 6", 400)):
        status, headers, answer = _raw(served.port, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n{head}")
        assert (status, headers["connection"], answer["error"]["type"]) == (code, "close", "invalid_request_error")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_the_body_must_be_declared_json(served, content_type):
    with served.connection() as connection:
        headers = {"Content-Type": content_type} if content_type else {}
        if content_type is None:
            connection.putrequest("POST", "/v1/chat/completions", skip_accept_encoding=True)
            connection.putheader("Authorization", f"Bearer {KEY}")
            body = json.dumps(_chat()).encode()
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            status, answer = response.status, json.loads(response.read())
        else:
            status, _, answer = served.request(connection, "POST", "/v1/chat/completions",
                                               json.dumps(_chat()).encode(), headers)
        assert status == 415 and answer["error"]["code"] == "unsupported_media_type"
        # the body was read and dropped: the same connection carries the next request
        assert served.request(connection, "GET", "/v1/models")[0] == 200
        status, _, answer = served.request(connection, "POST", "/v1/chat/completions", json.dumps(_chat()).encode(),
                                           {"Content-Type": "application/json; charset=utf-8"})
        assert status == 200 and answer["choices"][0]["message"]["role"] == "assistant"


LONG_PROMPT = " ".join(["SELECT"] * 600)  # 600 tokens; the tiny model's context is 512

BAD_BODIES = {
    "invalid utf-8": (b'{"model": "tiny", "messages": [{"role": "user", "content": "caf\xff"}]}', None, "UTF-8"),
    "not an object": (b"[1, 2]", None, "JSON object"),
    "a string": (b'"SELECT 1"', None, "JSON object"),
    "truncated": (b'{"model": "tiny", ', None, "not valid JSON"),
    "nested too deep": (b"[" * 100_000, None, "nested too deeply"),
    "empty": (b"", None, "empty"),
    "NaN": (json.dumps(_chat()).replace('"temperature": 0', '"temperature": NaN').encode(), None, "NaN"),
    "missing messages": (b'{"model": "tiny"}', "messages", "messages"),
    "messages not a list": (b'{"model": "tiny", "messages": "hi"}', "messages", "messages"),
    "content not a string": (json.dumps({**_chat(), "messages": [{"role": "user", "content": 5}]}).encode(),
                             "messages", "messages"),
    "role not a string": (json.dumps({**_chat(), "messages": [{"role": 1, "content": "x"}]}).encode(),
                          "messages", "messages"),
    "model not a string": (json.dumps({**_chat(), "model": 5}).encode(), "model", "model"),
    "max_tokens a string": (json.dumps({**_chat(), "max_tokens": "5"}).encode(), "max_tokens", "integer"),
    "max_tokens zero": (json.dumps({**_chat(), "max_tokens": 0}).encode(), "max_tokens", "integer"),
    "temperature a string": (json.dumps({**_chat(), "temperature": "hot"}).encode(), "temperature", "number"),
    "temperature too high": (json.dumps({**_chat(), "temperature": 1e300}).encode(), "temperature", "number"),
    "top_p a list": (json.dumps({**_chat(), "top_p": [1]}).encode(), "top_p", "number"),
    "seed a string": (json.dumps({**_chat(), "seed": "x"}).encode(), "seed", "integer"),
    "seed beyond 64 bits": (json.dumps({**_chat(), "seed": 2**64}).encode(), "seed", "integer"),
    "stop a number": (json.dumps({**_chat(), "stop": 5}).encode(), "stop", "stop"),
    "stream a string": (json.dumps({**_chat(), "stream": "yes"}).encode(), "stream", "stream"),
    "n true": (json.dumps({**_chat(), "n": True}).encode(), "n", "n=1"),
    "prompt over the context": (json.dumps(_chat(LONG_PROMPT)).encode(), "messages", "context"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_json_gets_a_400_and_the_connection_stays(served, case):
    body, param, fragment = BAD_BODIES[case]
    with served.connection() as connection:
        status, headers, answer = served.request(connection, "POST", "/v1/chat/completions", body,
                                                 {"Content-Type": "application/json"})
        assert status == 400 and headers["content-type"] == "application/json"
        assert answer["error"]["type"] == "invalid_request_error" and answer["error"]["param"] == param
        assert fragment in answer["error"]["message"]
        if case == "prompt over the context":
            assert answer["error"]["code"] == "context_length_exceeded"
        assert served.request(connection, "GET", "/v1/models")[0] == 200  # not dropped


def test_connections_beyond_the_cap_wait_then_get_503_and_threads_stay_bounded(served):
    pid = served.process.pid
    threads_before = _proc_status(pid, "Threads")
    models = f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n\r\n".encode()
    held = [socket.create_connection(("127.0.0.1", served.port), timeout=20) for _ in range(MAX_CONNECTIONS)]
    try:
        # served, so each holds a slot (one an earlier test's connection still held waits for it in the queue)
        for sock in held:
            sock.sendall(models)
            assert _read_response(sock)[0] == 200
        # beyond the cap, connections that send nothing (as a slow client would) are refused after the wait
        extras = [socket.create_connection(("127.0.0.1", served.port), timeout=20) for _ in range(2)]
        for extra in extras:
            with extra:
                status, headers, data = _read_response(extra)
                assert status == 503 and headers["retry-after"] == "1" and headers["connection"] == "close"
                assert json.loads(data)["error"]["code"] == "server_busy"
        assert _proc_status(pid, "Threads") == threads_before  # no thread per connection
        # the admitted connections are still served
        for sock in held:
            sock.sendall(models)
            status, _, data = _read_response(sock)
            assert status == 200 and json.loads(data)["data"][0]["id"] == NAME
        # a connection that finds every slot taken waits in the queue, and is served when one ends
        with socket.create_connection(("127.0.0.1", served.port), timeout=20) as queued:
            queued.sendall(models)
            held.pop().close()
            status, _, data = _read_response(queued)
            assert status == 200 and json.loads(data)["data"][0]["id"] == NAME
    finally:
        for sock in held:
            sock.close()


def test_a_rebinding_host_header_is_refused(served):
    for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.nip.io"):
        status, _, answer = _raw(served.port, f"GET /v1/models HTTP/1.1\r\nHost: {host}\r\n"
                                 f"Authorization: Bearer {KEY}")
        assert status == 403 and answer["error"]["code"] == "host_not_allowed"
    for host in ("localhost", f"localhost:{served.port}", f"127.0.0.1:{served.port}", "[::1]:80"):
        assert _raw(served.port, f"GET /v1/models HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}")[0] == 200


def test_a_slow_client_is_let_go_at_the_request_timeout(local_server):
    """One byte of header every 0.1 s: the old server waited forever; this one closes after its 1 s."""
    port = local_server.server_address[1]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as slow:
        slow.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for _ in range(200):  # at most 20 s
            try:
                slow.sendall(b"X")
            except OSError:
                closed = True
                break
            slow.setblocking(False)
            try:
                closed = slow.recv(4096) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed = True
            slow.setblocking(True)
            if closed:
                break
            time.sleep(0.1)
        assert closed
    # its one slot is free again
    assert _raw(port, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1")[2]["data"][0]["id"] == NAME


def test_a_browser_simple_request_is_refused(local_server):
    """Without a key, a page elsewhere can only send text/plain or forms without a preflight: both are refused,
    and the preflight (OPTIONS) is never granted."""
    port = local_server.server_address[1]
    body = json.dumps(_chat()).encode()
    for content_type in ("text/plain;charset=UTF-8", "application/x-www-form-urlencoded"):
        status, _, answer = _raw(port, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 f"Origin: http://attacker.example\r\nContent-Type: {content_type}\r\n"
                                 f"Content-Length: {len(body)}", body)
        assert status == 415 and answer["error"]["code"] == "unsupported_media_type"
    status, headers, answer = _raw(port, "OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   "Origin: http://attacker.example\r\nAccess-Control-Request-Method: POST")
    assert status == 501 and not any(name.startswith("access-control-") for name in headers)
    assert _raw(port, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}", body)[0] == 200


def test_a_host_beyond_loopback_is_warned(tiny, caplog):
    caplog.set_level(logging.WARNING, logger="finetune.serve")
    for host, api_key, expected in (("127.0.0.1", None, None), ("0.0.0.0", None, "WITHOUT AN API KEY"),
                                    ("0.0.0.0", KEY, "plain HTTP")):
        caplog.clear()
        server = make_server(tiny, host=host, port=0, api_key=api_key)
        server.server_close()
        warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
        if expected is None:
            assert warnings == []
        else:
            assert len(warnings) == 1 and expected in warnings[0] and "0.0.0.0" in warnings[0]
            assert KEY not in warnings[0]


def test_the_key_comes_from_the_environment_or_a_file_never_argv(tmp_path, model_dir, capsys):
    assert read_api_key(environ={}) is None
    assert read_api_key(environ={"PINOLOFT_SERVE_API_KEY": f" {KEY}\n"}) == KEY
    assert read_api_key("OPENAI_API_KEY", environ={"OPENAI_API_KEY": KEY}) == KEY
    for bad in ("", "  \n", "two words", "caf\u00e9"):
        with pytest.raises(ServeError) as error:
            read_api_key(environ={"PINOLOFT_SERVE_API_KEY": bad})
        assert "$PINOLOFT_SERVE_API_KEY" in str(error.value) and (not bad.strip() or bad not in str(error.value))
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    assert read_api_key(key_file=key_file, environ={"PINOLOFT_SERVE_API_KEY": "other"}) == KEY  # the file wins
    with pytest.raises(ServeError, match="cannot read"):
        read_api_key(key_file=tmp_path / "missing")
    # --api-key with the secret itself is refused, without echoing it
    assert main(["serve", "--model-dir", str(model_dir), "--api-key", KEY]) == 2
    assert "--api-key-file" in capsys.readouterr().err
    assert main(["serve", "--model-dir", str(model_dir), "--api-key-file", str(tmp_path / "missing")]) == 2
    with pytest.raises(SystemExit) as usage:
        main(["serve", "--model-dir", str(model_dir), "--max-connections", "0"])
    assert usage.value.code == 2


def test_vllm_gets_the_key_in_its_environment_not_argv(model_dir):
    command = vllm_command(model_dir, NAME, "127.0.0.1", 8000)
    assert command == ["vllm", "serve", str(model_dir.resolve()), "--served-model-name", NAME, "--host", "127.0.0.1",
                       "--port", "8000"]
    assert not any(KEY in part for part in command) and "--api-key" not in command
    assert vllm_environment(KEY, {"PATH": "/usr/bin"}) == {"PATH": "/usr/bin", "VLLM_API_KEY": KEY}
    assert vllm_environment(None, {"PATH": "/usr/bin"}) == {"PATH": "/usr/bin"}


def test_a_background_server_answers_with_its_own_key_and_stops_on_ctrl_c(model_dir):
    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        with background_server(model_dir, NAME, max_new_tokens=2) as server:
            port = server.server_address[1]
            key = server.api_key.decode("ascii")
            assert server.server_address[0] == "127.0.0.1" and port > 0
            assert len(key) >= 40 and key not in os.environ.values()  # made for the run, held in this process
            with openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0) as client:
                assert [card.id for card in client.models.list().data] == [NAME]
            with openai.OpenAI(base_url=server.base_url, api_key="guess", max_retries=0) as stranger, \
                    pytest.raises(openai.AuthenticationError):
                stranger.models.list()
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert [thread.name for thread in set(threading.enumerate()) - before] == []  # accepting thread and workers ended
    assert server.model is None  # the weights are let go
