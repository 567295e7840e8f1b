"""Evaluation against scripted chat models on the local fake, plus the API-free reference mutators: every
metric checked exactly, the cache, retries, failures, and execution on a real MariaDB."""

from __future__ import annotations

import pytest

from finetune import Store, load_service
from finetune.evaluate import clean_output, evaluate, parse_mutators, validation_executor, wilson
from finetune_helpers import make_test_split


@pytest.fixture
def split(tmp_path):
    exports = tmp_path / "exports"
    return exports, make_test_split(exports)


def scripted(fake, examples):
    expected = {example["original"]: example["expected"] for example in examples}

    def user(messages):
        return [message["content"] for message in messages if message["role"] == "user"][-1]

    fake.script_chat("good", lambda messages: expected[user(messages)])
    fake.script_chat("same", lambda messages: user(messages))
    fake.script_chat("chatty", lambda messages: f"Here is the mutated query:\n```sql\n{expected[user(messages)]}\n```\n"
                                                "Let me know if you need more.")
    # the first keyword in lower case: not the exact text, the same tokens
    fake.script_chat("shouty", lambda messages: expected[user(messages)].replace("SELECT", "select", 1))
    return expected


def metrics(store, evaluation_id, strategy="*"):
    return {row[0]: row[1:] for row in store.query(
        "SELECT mutator, examples, exact, normalised, conforms, clean, fenced, prose, errors, prompt_tokens > 0 "
        "FROM finetune.eval_metrics WHERE evaluation_id = ? AND strategy = ? AND dbms = '*'", [evaluation_id, strategy])}


def test_every_metric_of_scripted_models_and_reference_mutators(openai_env, split, tmp_path):
    exports, examples = split
    scripted(openai_env, examples)
    store = Store(tmp_path / "warehouse.duckdb")
    mutators = parse_mutators("reference identity good=good same=same chatty=chatty shouty")
    result = evaluate("ds", mutators, store, exports=exports, service=load_service(), reports=None, quiet=True)
    assert (result.sent, result.cached) == (4 * 6, 0)
    got = metrics(store, result.evaluation_id)
    # mutator: examples, exact, normalised, conforms, clean, fenced, prose, errors, tokens recorded
    assert got == {
        "reference": (6, 6, 6, 6, 6, 0, 0, 0, False),
        "identity": (6, 0, 0, 0, 6, 0, 0, 0, False),
        "good": (6, 6, 6, 6, 6, 0, 0, 0, True),
        "same": (6, 0, 0, 0, 6, 0, 0, 0, True),
        "chatty": (6, 6, 6, 6, 0, 6, 6, 0, True),
        "shouty": (6, 0, 6, 6, 6, 0, 0, 0, True),  # not exact, same tokens, still conforms
    }
    assert metrics(store, result.evaluation_id, "FixMCmpOpU")["good"] == (2, 2, 2, 2, 2, 0, 0, 0, True)
    low, high = wilson(6, 6)
    assert store.query("SELECT conforms_ci_low, conforms_ci_high FROM finetune.eval_metrics WHERE evaluation_id = ? "
                       "AND mutator = 'good' AND strategy = '*' AND dbms = '*'", [result.evaluation_id]) == [(low, high)]
    assert store.query("SELECT DISTINCT reason_kind FROM finetune.eval_predictions WHERE mutator = 'same'") == [
        ("identical",)]
    # the chat models saw each example's system and user messages, at temperature 0
    request = openai_env.chat_requests[0]
    assert [message["role"] for message in request["messages"]] == ["system", "user"]
    assert request["temperature"] == 0
    # cost: these scripted model names have no price
    assert store.query("SELECT count(*) FROM finetune.eval_predictions WHERE mutator = 'good' AND cost_usd IS NULL") == [(6,)]


def test_a_rerun_is_answered_from_the_cache(openai_env, split, tmp_path):
    exports, examples = split
    scripted(openai_env, examples)
    store = Store(tmp_path / "warehouse.duckdb")
    mutators = parse_mutators("good")
    first = evaluate("ds", mutators, store, exports=exports, service=load_service(), reports=None, quiet=True)
    sent = len(openai_env.chat_requests)
    second = evaluate("ds", mutators, store, exports=exports, service=load_service(), reports=None, quiet=True)
    assert (first.sent, second.sent, second.cached, len(openai_env.chat_requests)) == (6, 0, 6, sent)
    assert metrics(store, second.evaluation_id) == metrics(store, first.evaluation_id)


def test_rate_limits_are_retried_and_lasting_failures_are_counted(openai_env, split, tmp_path):
    exports, examples = split
    scripted(openai_env, examples)
    openai_env.respond(429, times=3, path_contains="/chat/completions")
    store = Store(tmp_path / "warehouse.duckdb")
    result = evaluate("ds", parse_mutators("good"), store, exports=exports, service=load_service(), reports=None,
                      quiet=True, concurrency=3)
    assert metrics(store, result.evaluation_id)["good"][:4] == (6, 6, 6, 6)
    openai_env.respond(500, times=100, path_contains="/chat/completions")
    failed = evaluate("ds", parse_mutators("same"), store, exports=exports, service=load_service(), reports=None,
                      quiet=True)
    assert metrics(store, failed.evaluation_id)["same"][:4] == (6, 0, 0, 0)
    assert metrics(store, failed.evaluation_id)["same"][7] == 6  # errors
    reasons = store.query("SELECT DISTINCT reason FROM finetune.eval_predictions WHERE evaluation_id = ?",
                          [failed.evaluation_id])
    assert len(reasons) == 1 and reasons[0][0].startswith("no output: asking same: 500 from the service after retries")


def test_chat_models_without_a_key_are_refused_before_anything_runs(monkeypatch, split, tmp_path):
    from finetune import PlanError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    exports, _ = split
    with pytest.raises(PlanError, match="chat models need an API key"):
        evaluate("ds", parse_mutators("reference base=gpt-4o-mini-2024-07-18"), Store(tmp_path / "w.duckdb"),
                 exports=exports, service=load_service(), reports=None, quiet=True)


def test_outputs_run_on_mariadb_with_the_oracle(openai_env, split, tmp_path):
    from validation import ThrowawayServer

    exports, examples = split
    scripted(openai_env, examples)
    openai_env.script_chat("vandal", "DROP TABLE `table_3_utf8_undef`")
    server = ThrowawayServer(tmp_path / "mariadb")
    server.start()
    try:
        store = Store(tmp_path / "warehouse.duckdb")
        result = evaluate("ds", parse_mutators("reference identity vandal"), store, exports=exports,
                          service=load_service(), reports=None, quiet=True,
                          executor=validation_executor(server.reader(), server.admin()), target="mariadb")
    finally:
        server.stop()
    rows = {row[0]: row[1:] for row in store.query(
        "SELECT mutator, executable, oracle_holds FROM finetune.eval_metrics WHERE evaluation_id = ? "
        "AND strategy = '*' AND dbms = '*'", [result.evaluation_id])}
    assert rows["identity"] == (6, 6)  # the input itself: runs, and equal results always hold
    assert rows["vandal"] == (0, 0)  # refused by the guard, never sent
    assert rows["reference"][0] == 6 and rows["reference"][1] <= 6


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("SELECT 1", ("SELECT 1", False, False)),
        ("```sql\nSELECT 1\n```", ("SELECT 1", True, False)),
        ("Sure! Here it is:\n```\nSELECT 1\n```", ("SELECT 1", True, True)),
        ("The mutated query is SELECT 1", ("SELECT 1", False, True)),
        ("I cannot do that.", ("I cannot do that.", False, True)),
    ],
)
def test_clean_output(raw, expected):
    assert clean_output(raw) == expected


def test_wilson_interval_known_values():
    low, high = wilson(0, 14)
    assert (round(low, 4), round(high, 4)) == (0.0, 0.2153)
    low, high = wilson(7, 14)
    assert (round(low, 4), round(high, 4)) == (0.2680, 0.7320)
    assert wilson(0, 0) == (None, None)


def test_run_evaluation_loads_the_service_only_for_chat_models_and_summarises(openai_env, split, tmp_path):
    from finetune import CredentialsError, PlanError
    from finetune.evaluate import SUMMARY_COLUMNS, run_evaluation, summary_rows

    exports, examples = split
    scripted(openai_env, examples)
    store = Store(tmp_path / "warehouse.duckdb")
    missing = tmp_path / "no-service.yml"
    # no chat model: the service config is never read (a missing one is no error)
    result = run_evaluation("ds", "identity reference", store, service_config=missing, exports=exports,
                            execute="no", reports=None, quiet=True)
    assert result.target is None and openai_env.requests == []
    assert summary_rows(store, result) == [  # in the order the mutators were given
        ("identity", 6, 0, 0, 0, "0%", "[0%, 39%]", 6, None, None, 0, 0, 0.0),
        ("reference", 6, 6, 6, 6, "100%", "[61%, 100%]", 6, None, None, 0, 0, 0.0),
    ]
    assert len(SUMMARY_COLUMNS) == len(summary_rows(store, result)[0])
    with pytest.raises(CredentialsError, match=f"^no service config at {missing}$"):
        run_evaluation("ds", "good", store, service_config=missing, exports=exports, execute="no", reports=None)
    with pytest.raises(PlanError, match="^execute must be one of auto, yes, no, not 'maybe'$"):
        run_evaluation("ds", "identity", store, exports=exports, execute="maybe", reports=None)
    chat = run_evaluation("ds", "good", store, exports=exports, execute="no", reports=None, quiet=True,
                          concurrency=2, requests_per_minute=0)
    (row,) = summary_rows(store, chat)
    tokens = store.query("SELECT sum(prompt_tokens + completion_tokens) FROM finetune.eval_predictions "
                         "WHERE evaluation_id = ?", [chat.evaluation_id])[0][0]
    assert row == ("good", 6, 6, 6, 6, "100%", "[61%, 100%]", 6, None, None, 0, tokens, None) and tokens > 0


def test_run_evaluation_executes_on_a_throwaway_mariadb(split, tmp_path):
    from finetune.evaluate import run_evaluation, summary_rows

    exports, _ = split
    store = Store(tmp_path / "warehouse.duckdb")
    result = run_evaluation("ds", "identity", store, exports=exports, execute="yes",
                            server_dir=tmp_path / "mariadb", reports=None, quiet=True)
    assert result.target == "mariadb"
    assert summary_rows(store, result) == [("identity", 6, 0, 0, 0, "0%", "[0%, 39%]", 6, 6, 6, 0, 0, 0.0)]
