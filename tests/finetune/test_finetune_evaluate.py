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


# -- local models: base vs tuned, each served by evaluate for the run ------------------------------------------


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A tiny base model and a local LoRA job trained on it once (1 epoch), with a 3-example test split:
    (exports, base model folder, job id, warehouse)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    import json

    from finetune.local import plan_local, train_local
    from finetune_helpers import build_tiny_model, make_export

    root = tmp_path_factory.mktemp("base-vs-tuned")
    exports = make_export(root / "exports", "ds", train=8, validation=0)
    make_test_split(exports, "ds", per_strategy=1)
    texts = [message["content"] for name in ("train.jsonl", "test.jsonl")
             for line in (exports / "ds" / name).read_text().splitlines()
             for message in json.loads(line)["messages"]]
    base = build_tiny_model(root / "tiny-base", texts)
    warehouse = root / "warehouse.duckdb"
    plan = plan_local("ds", base, exports=exports, epochs=1, batch_size=4, learning_rate=5e-3, seed=1,
                      output_dir=root / "job")
    assert train_local(plan, Store(warehouse), quiet=True).status == "succeeded"
    return exports, base, plan.job_id, warehouse


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1].split("/")[0])


def test_base_and_tuned_local_models_are_served_for_the_run_then_stopped(tuned, tmp_path):
    import socket
    import threading

    from finetune.evaluate import report_data, run_evaluation

    exports, base, job_id, warehouse = tuned
    store = Store(warehouse)
    before = set(threading.enumerate())
    result = run_evaluation("ds", f"base={base} tuned=local:{job_id} identity", store, exports=exports,
                            execute="no", reports=tmp_path / "reports", quiet=True)
    # both servers were started (each on its own port) and are gone: ports closed, threads ended
    assert sorted(result.servers) == ["base", "tuned"]
    ports = {_port(url) for url in result.servers.values()}
    assert len(ports) == 2
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    # (tqdm's monitor thread, started once per process by the weights' loading bar, stays by design)
    assert [thread.name for thread in set(threading.enumerate()) - before if thread.name != "tqdm_monitor"] == []
    assert (result.sent, result.cached) == (6, 0)
    # both mutators in the warehouse and the report, 3 test examples each, every one answered
    data = report_data(store, result.evaluation_id)
    adapter = str(exports.parent / "job" / "adapter")
    assert [(model["name"], model["kind"], model["model"], model["examples"], model["errors"])
            for model in data["models"]] == [("base", "local", str(base), 3, 0), ("tuned", "local", adapter, 3, 0),
                                             ("identity", "identity", "identity", 3, 0)]
    assert store.query("SELECT mutator, count(*), count(raw_output), min(completion_tokens) > 0 FROM "
                       "finetune.eval_predictions WHERE evaluation_id = ? AND mutator <> 'identity' GROUP BY 1 "
                       "ORDER BY 1", [result.evaluation_id]) == [("base", 3, 3, True), ("tuned", 3, 3, True)]
    assert store.query("SELECT endpoint FROM finetune.eval_runs WHERE evaluation_id = ?",
                       [result.evaluation_id]) == [("local",)]
    markdown = result.report[1].read_text()
    assert "| base | local |" in markdown and "| tuned | local |" in markdown
    # the cache knows each model by its folder, not by the port of the run: a rerun starts no server at all
    again = run_evaluation("ds", f"base={base} tuned=local:{job_id}", store, exports=exports, execute="no",
                           reports=None, quiet=True)
    assert (again.sent, again.cached, again.servers) == (0, 6, {})
    assert store.query("SELECT count(DISTINCT endpoint), bool_and(endpoint LIKE 'local:%') FROM finetune.eval_cache") \
        == [(2, True)]


def test_the_evaluate_command_names_the_servers_it_ran(tuned, tmp_path, capsys):
    import shutil

    from finetune.cli import main

    exports, base, _, warehouse = tuned
    copy = shutil.copytree(base, tmp_path / "base-copy")  # another folder: nothing of it in the cache
    code = main(["--quiet", "--warehouse", str(tmp_path / "w.duckdb"), "evaluate", "--dataset", "ds", "--exports",
                 str(exports), "--models", f"copy={copy} reference", "--limit", "1", "--execute", "no", "--reports",
                 str(tmp_path / "reports")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[:2] == ["evaluation 1 of ds: 1 test example(s), 1 request(s) sent, 0 answered from the cache",
                         "local model(s) served for this run on 127.0.0.1, then stopped: copy"]
    assert [line.split()[:3] for line in lines[3:5]] == [["copy", "1", "0"], ["reference", "1", "1"]]


def test_bad_local_specs_are_clear_errors_before_anything_runs(tuned, tmp_path, capsys):
    from finetune.cli import main
    from finetune.errors import LocalModelError, PlanError

    exports, base, job_id, warehouse = tuned
    store = Store(tmp_path / "w.duckdb")
    missing = tmp_path / "no-such-model"
    with pytest.raises(LocalModelError, match=f"^mutator base: model folder {missing}: no such directory"):
        parse_mutators(f"base={missing}", store)
    with pytest.raises(PlanError, match="^mutator tuned: no job local-000000000000 in finetune.jobs"):
        parse_mutators("tuned=local:local-000000000000", store)
    with store.transaction() as con:
        for job, endpoint, status in (("local-aaaaaaaaaaaa", "local", "interrupted"),
                                      ("ftjob-abc", "https://api.openai.com/v1", "succeeded"),
                                      ("local-bbbbbbbbbbbb", "local", "succeeded")):
            Store.upsert(con, "jobs", {"job_id": job, "endpoint": endpoint, "status": status,
                                       "result_files": [str(tmp_path / "gone" / "results.csv")]})
            if status == "succeeded":
                Store.upsert(con, "models", {"model_name": job, "kind": "final", "job_id": job})
    with pytest.raises(PlanError, match="^mutator tuned: local job local-aaaaaaaaaaaa is interrupted, not finished"):
        parse_mutators("tuned=local:local-aaaaaaaaaaaa", store)
    with pytest.raises(PlanError, match="^mutator ft: ftjob-abc is not a local job .* evaluate its models with "
                                        "job:ftjob-abc$"):
        parse_mutators("ft=local:ftjob-abc", store)
    with pytest.raises(PlanError, match=f"^mutator t: the adapter of local job local-bbbbbbbbbbbb is not at "
                                        f"{tmp_path / 'gone' / 'adapter'} "):
        parse_mutators("t=local:local-bbbbbbbbbbbb", store)
    # a name that is no folder stays a chat model's name, as before; one written as a path must exist
    assert parse_mutators("base=gpt-4o-mini-2024-07-18 org/model")[0].kind == "chat"
    with pytest.raises(LocalModelError, match="no such directory"):
        parse_mutators("base=./no-such-folder")
    # through the command: exit 2, one line naming the problem
    for models, message in ((f"base={missing}", f"mutator base: model folder {missing}: no such directory"),
                            ("tuned=local:local-aaaaaaaaaaaa", "local job local-aaaaaaaaaaaa is interrupted")):
        code = main(["--warehouse", str(store.path), "evaluate", "--dataset", "ds", "--exports", str(exports),
                     "--models", models, "--execute", "no"])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and message in err and err.count("\n") == 1
