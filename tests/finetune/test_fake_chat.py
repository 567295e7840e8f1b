"""Tests of the fake's chat completions (fake_openai.py), through the real `openai` SDK over HTTP.

They pin what evaluations rely on: scripted replies per model, OpenAI's ChatCompletion shape with deterministic
usage, errors as the SDK's exceptions (unknown model, n > 1, injected 429), Azure's deployment path, and
concurrent requests.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from fake_openai import SYSTEM_FINGERPRINT, APIError, chat_usage
from openai.types.chat import ChatCompletion

UPPER = "gpt-4o-mini-2024-07-18"
SQL = "ft:gpt-4o-mini-2024-07-18:pinoloft-test:sql:0123abcd"
AZURE_API_VERSION = "2024-10-21"
SYSTEM = "You mutate SQL queries."  # 23 characters
QUERY = "select * from t where c > 1"  # 27 characters


def last_user(messages: list[dict]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def upper(messages: list[dict]) -> str:
    return last_user(messages).upper()


def sql_fence(messages: list[dict]) -> str:
    return f"```sql\n{last_user(messages)}\n```"


@pytest.fixture
def fake(fake_openai):
    fake_openai.script_chat(UPPER, upper)
    fake_openai.script_chat(SQL, sql_fence)
    yield fake_openai
    assert fake_openai.errors == []  # no exception escaped a handler


def ask(client, model: str, text: str = QUERY, **kwargs) -> ChatCompletion:
    return client.chat.completions.create(model=model, messages=[
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": text}], **kwargs)


def test_scripted_replies_per_model_in_openais_shape(fake, openai_client):
    first = ask(openai_client, UPPER, temperature=0, seed=7, max_completion_tokens=100)
    second = ask(openai_client, SQL, max_tokens=100)

    assert isinstance(first, ChatCompletion)
    assert first.choices[0].message.content == "SELECT * FROM T WHERE C > 1"
    assert second.choices[0].message.content == "```sql\nselect * from t where c > 1\n```"
    # prompt: 23 + 27 = 50 characters -> 13 tokens; replies: 27 -> 7, 38 -> 10
    assert first.usage.model_dump() == {"prompt_tokens": 13, "completion_tokens": 7, "total_tokens": 20,
                                        "completion_tokens_details": None, "prompt_tokens_details": None}
    assert (second.usage.prompt_tokens, second.usage.completion_tokens, second.usage.total_tokens) == (13, 10, 23)
    choice = first.choices[0]
    assert (choice.index, choice.finish_reason, choice.logprobs) == (0, "stop", None)
    assert (choice.message.role, choice.message.refusal) == ("assistant", None)
    assert first.object == "chat.completion" and first.model == UPPER and second.model == SQL
    assert first.id == f"chatcmpl-{1:024x}" and second.id == f"chatcmpl-{2:024x}"
    assert first.system_fingerprint == SYSTEM_FINGERPRINT == "fp_fake"

    # introspection: bodies as sent, in order; replies served per model
    assert [body["model"] for body in fake.chat_requests] == [UPPER, SQL]
    assert fake.chat_requests[0]["messages"][1] == {"role": "user", "content": QUERY}
    assert (fake.chat_requests[0]["temperature"], fake.chat_requests[0]["seed"]) == (0, 7)
    assert fake.chat_requests[0]["max_completion_tokens"] == 100 and fake.chat_requests[1]["max_tokens"] == 100
    assert fake.chat_counts == {UPPER: 1, SQL: 1}
    assert fake.chat_calls(SQL) == [fake.chat_requests[1]]
    assert [r.path for r in fake.calls("POST", "/chat/completions")] == ["/v1/chat/completions"] * 2


def test_raw_json_is_openais_documented_shape(fake, openai_client):
    raw = openai_client.chat.completions.with_raw_response.create(
        model=UPPER, messages=[{"role": "user", "content": "hi"}])
    body = json.loads(raw.http_response.content)
    created = body.pop("created")
    assert isinstance(created, int) and created > 0
    assert body == {
        "id": f"chatcmpl-{1:024x}", "object": "chat.completion", "model": UPPER,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "HI", "refusal": None},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        "system_fingerprint": "fp_fake",
    }


def test_token_rule():
    assert chat_usage([{"role": "user", "content": "x" * 8}], "y" * 9) == {
        "prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    # minimum 1 each; list content counts its text parts
    assert chat_usage([{"role": "user", "content": ""}], "") == {
        "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    assert chat_usage([{"role": "user", "content": [{"type": "text", "text": "abcde"}]}], "a")["prompt_tokens"] == 2


def test_a_fixed_reply_and_a_replaced_script(fake, openai_client):
    fake.script_chat("gpt-4.1-mini-2025-04-14", "SELECT 1")
    assert ask(openai_client, "gpt-4.1-mini-2025-04-14").choices[0].message.content == "SELECT 1"
    fake.script_chat(UPPER, lambda messages: str(len(messages)))
    assert ask(openai_client, UPPER).choices[0].message.content == "2"
    with pytest.raises(TypeError):
        fake.script_chat(UPPER, 42)  # type: ignore[arg-type]


def test_max_tokens_cuts_the_reply(fake, openai_client):
    cut = ask(openai_client, UPPER, max_completion_tokens=2)
    assert cut.choices[0].message.content == "SELECT *"  # 2 tokens x 4 characters
    assert cut.choices[0].finish_reason == "length"
    assert (cut.usage.completion_tokens, cut.usage.total_tokens) == (2, 15)


def test_unknown_model_is_not_found(fake, openai_client):
    with pytest.raises(openai.NotFoundError) as exc:
        ask(openai_client, "gpt-nope")
    assert exc.value.status_code == 404
    assert exc.value.body == {
        "message": "The model `gpt-nope` does not exist or you do not have access to it.",
        "type": "invalid_request_error", "param": None, "code": "model_not_found"}
    assert exc.value.code == "model_not_found"
    assert [body["model"] for body in fake.chat_requests] == ["gpt-nope"]  # recorded, but no reply served
    assert fake.chat_counts == {}


def test_n_above_one_and_other_bad_requests_are_400(fake, openai_client):
    with pytest.raises(openai.BadRequestError) as exc:
        ask(openai_client, UPPER, n=2)
    assert (exc.value.param, exc.value.code) == ("n", "unsupported_value")
    assert ask(openai_client, UPPER, n=1).choices[0].message.content == "SELECT * FROM T WHERE C > 1"
    with pytest.raises(openai.BadRequestError) as exc:
        ask(openai_client, UPPER, temperature=3)
    assert exc.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as exc:
        openai_client.chat.completions.create(model=UPPER, messages=[])
    assert exc.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as exc:
        openai_client.chat.completions.create(model=UPPER, messages=[{"role": "robot", "content": "x"}])
    assert exc.value.param == "messages[0]"
    with pytest.raises(openai.BadRequestError) as exc:
        ask(openai_client, UPPER, stream=True)
    assert exc.value.param == "stream"
    assert fake.chat_counts == {UPPER: 1}


def test_a_script_can_raise_an_api_error(fake, openai_client):
    def too_long(messages):
        raise APIError(400, "This model's maximum context length is 10 tokens.", param="messages",
                       code="context_length_exceeded")

    fake.script_chat(UPPER, too_long)
    with pytest.raises(openai.BadRequestError) as exc:
        ask(openai_client, UPPER)
    assert exc.value.code == "context_length_exceeded"
    assert fake.chat_counts == {}


def test_a_broken_script_answers_500_and_is_recorded(fake_openai, openai_client):
    fake_openai.script_chat(UPPER, lambda messages: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(openai.InternalServerError):
        ask(openai_client, UPPER)
    assert len(fake_openai.errors) == 1 and "returned NoneType" in fake_openai.errors[0]


def test_429_then_success_with_one_retry(fake):
    fake.respond(429, times=1, path_contains="/chat/completions", method="POST")
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=0) as client, \
            pytest.raises(openai.RateLimitError):
        ask(client, UPPER)
    fake.respond(429, times=1, path_contains="/chat/completions", method="POST")
    with openai.OpenAI(base_url=fake.base_url, api_key=fake.api_key, max_retries=1) as client:
        answer = ask(client, UPPER)
    assert answer.choices[0].message.content == "SELECT * FROM T WHERE C > 1"
    assert [r.headers["x-stainless-retry-count"] for r in fake.calls("POST", "/chat/completions")] == ["0", "0", "1"]
    assert len(fake.chat_requests) == 1  # the injected answers never reach the handler
    assert fake.chat_counts == {UPPER: 1}


def test_dropped_connections(fake, openai_client):
    fake.drop_connection_before("POST", "/chat/completions")
    with pytest.raises(openai.APIConnectionError):
        ask(openai_client, UPPER)
    assert fake.chat_counts == {}
    fake.drop_connection_after("POST", "/chat/completions")
    with pytest.raises(openai.APIConnectionError):
        ask(openai_client, UPPER)
    assert fake.chat_counts == {UPPER: 1}  # served, but the client never saw it
    assert ask(openai_client, UPPER).choices[0].message.content == "SELECT * FROM T WHERE C > 1"


def test_wrong_key_is_401(fake):
    with openai.OpenAI(base_url=fake.base_url, api_key="sk-wrong-key-000000", max_retries=0) as client, \
            pytest.raises(openai.AuthenticationError):
        ask(client, UPPER)


def test_azure_deployment_path(fake, azure_client):
    answer = ask(azure_client, SQL)
    assert answer.choices[0].message.content == "```sql\nselect * from t where c > 1\n```"
    assert answer.model == SQL
    (call,) = fake.calls("POST", "/chat/completions")
    assert call.path == f"/openai/deployments/{SQL}/chat/completions"
    assert call.query == {"api-version": AZURE_API_VERSION}
    with pytest.raises(openai.NotFoundError):
        ask(azure_client, "gpt-nope")


def test_azure_deployment_in_the_path_wins_over_the_body(fake):
    with openai.AzureOpenAI(azure_endpoint=fake.azure_endpoint, api_key=fake.api_key, api_version=AZURE_API_VERSION,
                            azure_deployment=UPPER, max_retries=0) as client:
        answer = ask(client, "whatever-the-body-says")
    assert answer.model == UPPER and answer.choices[0].message.content == "SELECT * FROM T WHERE C > 1"
    assert fake.chat_requests[0]["model"] == "whatever-the-body-says"
    assert fake.chat_counts == {UPPER: 1}


def test_twenty_concurrent_requests(fake, openai_client):
    texts = [f"select {i} from t where id = {i}" for i in range(20)]
    jobs = [(UPPER if i % 2 else SQL, text) for i, text in enumerate(texts)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda job: ask(openai_client, *job), jobs))
    assert [a.choices[0].message.content for a in answers] == [
        text.upper() if i % 2 else f"```sql\n{text}\n```" for i, text in enumerate(texts)]
    assert [a.model for a in answers] == [model for model, _ in jobs]
    assert len({a.id for a in answers}) == 20
    assert fake.chat_counts == {UPPER: 10, SQL: 10}
    assert sorted(last_user(body["messages"]) for body in fake.chat_requests) == sorted(texts)
    assert len(fake.calls("POST", "/chat/completions")) == 20


def test_scripts_run_concurrently(fake, openai_client):
    together = threading.Barrier(3, timeout=10)  # each reply waits for two others: only concurrent serving passes

    def meet(messages):
        together.wait()
        return upper(messages)

    fake.script_chat(UPPER, meet)
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda i: ask(openai_client, UPPER, f"q{i}").choices[0].message.content, range(3)))
    assert answers == ["Q0", "Q1", "Q2"]
