"""The dry run: data check, estimate, hyperparameters, fingerprints and credentials, without a request."""

from __future__ import annotations

import json

import pytest

from exporters import check_file
from finetune import CredentialsError, Hyperparameters, PlanError, load_service, plan_training
from finetune_helpers import make_export


def test_the_plan_reports_the_check_the_estimate_and_what_it_would_do(openai_env, tmp_path):
    exports = make_export(tmp_path / "exports")
    plan = plan_training("ds", load_service(), exports=exports, hyperparameters=Hyperparameters.parse(4, None, None),
                         suffix="unit")
    train_check = check_file(exports / "ds" / "train.jsonl", "gpt-4o-mini-2024-07-18", quiet=True)
    assert (plan.model, plan.train_check.n_valid, plan.validation_check.n_valid) == ("gpt-4o-mini-2024-07-18", 12, 4)
    # the estimate scales the data check's per-epoch billing to the chosen 4 epochs
    assert plan.billing_tokens == round(train_check.billing_tokens / train_check.n_epochs * 4)
    assert plan.estimated_cost_usd == pytest.approx(plan.billing_tokens * 3.0 / 1_000_000)
    assert plan.problems == []
    assert plan.method() == {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 4, "batch_size": "auto", "learning_rate_multiplier": "auto"}}}
    assert plan.metadata() == {"pinoloft_dataset": "ds", "pinoloft_data": plan.dataset_hash,
                               "pinoloft_params": plan.params_hash}
    text = plan.describe()
    assert f"service: openai at {openai_env.base_url}, key from environment variable OPENAI_API_KEY" in text
    assert openai_env.api_key not in text
    assert openai_env.requests == []  # a plan sends nothing
    # same bytes and parameters, same fingerprints; other epochs, other parameters
    again = plan_training("ds", load_service(), exports=exports, hyperparameters=Hyperparameters.parse(4, None, None),
                          suffix="unit")
    other = plan_training("ds", load_service(), exports=exports, suffix="unit")
    assert (again.dataset_hash, again.params_hash) == (plan.dataset_hash, plan.params_hash)
    assert other.dataset_hash == plan.dataset_hash and other.params_hash != plan.params_hash


def test_problems_that_block_a_submission_are_listed(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    exports = make_export(tmp_path / "exports", train=5, validation=0)
    with (exports / "ds" / "train.jsonl").open("a") as handle:
        handle.write(json.dumps({"messages": [{"role": "user"}]}) + "\n")
    plan = plan_training("ds", load_service(), exports=exports)
    assert plan.validation_path is None
    # the bad line has two of the cookbook's format errors: a message without content, no assistant message
    assert plan.problems == ["2 format error(s) in the training file",
                             "only 5 valid training example(s); at least 10 are needed",
                             "no API key (environment variable OPENAI_API_KEY is not set)"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"hyperparameters": None}, None),
        ({"model": "gpt-2"}, "unknown model 'gpt-2'"),
        ({"suffix": "has space"}, "suffix 'has space': use at most 64 letters, digits, '-' and '_'"),
    ],
)
def test_bad_parameters_are_named(openai_env, tmp_path, arguments, message):
    exports = make_export(tmp_path / "exports")
    if message is None:
        with pytest.raises(PlanError, match="epochs must be a number or auto, not 'many'"):
            Hyperparameters.parse("many", None, None)
        with pytest.raises(PlanError, match="no training file .*nope/train.jsonl: export the dataset first"):
            plan_training("nope", load_service(), exports=exports)
        return
    with pytest.raises(PlanError, match=message):
        plan_training("ds", load_service(), exports=exports, **arguments)


def test_service_config_names_the_key_variable_and_never_holds_a_key(monkeypatch, tmp_path):
    monkeypatch.setenv("MY_FT_KEY", "sk-from-my-variable")
    config = tmp_path / "service.yml"
    config.write_text("provider: openai\nbase_url: http://127.0.0.1:9/v1\napi_key_env: MY_FT_KEY\n")
    service = load_service(config)
    assert service.describe() == "openai at http://127.0.0.1:9/v1, key from environment variable MY_FT_KEY"
    config.write_text("provider: openai\napi_key: sk-literal\n")
    with pytest.raises(CredentialsError, match="holds an api_key; keep keys out of files"):
        load_service(config)
    config.write_text("provider: azure\napi_key_env: MY_FT_KEY\n")
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    monkeypatch.delenv("OPENAI_API_VERSION", raising=False)
    with pytest.raises(CredentialsError, match="Azure OpenAI needs an endpoint and an API version"):
        load_service(config)


TIMELINE_ON_2026_12_03 = [
    "  OpenAI fine-tuning wind-down, as publicly reported (checked 2026-12); today is 2026-12-03:",
    "    2026-05-07  self-serve fine-tuning closed to organisations that had never fine-tuned (210 days ago)",
    "    2026-07-02  self-serve fine-tuning closed to inactive organisations (154 days ago)",
    "    2027-01-06  new fine-tuning jobs end for everyone (34 days left)",
    "    2027-01-14  the gpt-4o-mini-2024-07-18, gpt-4o and gpt-4.1(-mini) snapshots shut down with all their "
    "fine-tunes (42 days left)",
    '  alternatives: Azure OpenAI (same API: set AZURE_OPENAI_ENDPOINT), BACKEND=local (LoRA on a local model folder), '
    'or the exports for other trainers (make export FORMATS="hf llamafactory axolotl vertex")',
]


def test_the_openai_dry_run_ends_with_the_wind_down_timeline(openai_itself, tmp_path):
    from datetime import date

    plan = plan_training("ds", load_service(), exports=make_export(tmp_path / "exports"))
    assert plan.service.endpoint == "https://api.openai.com/v1"
    lines = plan.describe(today=date(2026, 12, 3)).splitlines()
    assert lines[-len(TIMELINE_ON_2026_12_03):] == TIMELINE_ON_2026_12_03
    # the counts follow the clock: the day new jobs end, and after
    assert "    2027-01-06  new fine-tuning jobs end for everyone (today)" in plan.describe(today=date(2027, 1, 6))
    later = plan.describe(today=date(2027, 1, 13)).splitlines()
    assert later[-3:-1] == ["    2027-01-06  new fine-tuning jobs end for everyone (7 days ago)",
                            "    2027-01-14  the gpt-4o-mini-2024-07-18, gpt-4o and gpt-4.1(-mini) snapshots shut down "
                            "with all their fine-tunes (1 day left)"]


def test_the_train_command_prints_the_timeline_dated_today(openai_itself, tmp_path, capsys):
    from datetime import date

    from finetune.cli import main
    from finetune.wind_down import timeline_lines

    exports = make_export(tmp_path / "exports")
    assert main(["--quiet", "train", "--dataset", "ds", "--exports", str(exports)]) == 0
    out = capsys.readouterr().out
    assert "\n".join(timeline_lines(date.today())) in out
    assert f"today is {date.today().isoformat()}:" in out and "dry run: nothing was sent" in out


def test_no_timeline_for_azure_or_another_base_url(azure_openai_env, tmp_path, monkeypatch):
    from datetime import date

    exports = make_export(tmp_path / "exports")
    azure = plan_training("ds", load_service(), exports=exports)
    assert azure.service.provider == "azure"
    assert "wind-down" not in azure.describe(today=date(2026, 12, 3))
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    monkeypatch.setenv("OPENAI_BASE_URL", azure_openai_env.base_url)  # a compatible service elsewhere
    elsewhere = plan_training("ds", load_service(), exports=exports)
    assert elsewhere.service.provider == "openai"
    assert "2027-01-06" not in elsewhere.describe(today=date(2026, 12, 3))
