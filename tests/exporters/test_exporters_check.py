"""The data check: each format-error category, token counts, warnings, distributions, epochs and cost."""

from __future__ import annotations

import json

import pytest

from exporters.check import FORMAT_ERROR_CATEGORIES, check_examples, check_file, format_problems
from exporters.models import ModelSpec
from exporters.tokens import get_encoding


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def chat(user="hello world", assistant="hi", system="You are x."):
    messages = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    if user is not None:
        messages.append({"role": "user", "content": user})
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return {"messages": messages}


# One line per category, plus a second data_type line (not JSON) and a second message_missing_key example
# whose two bad messages must count once.
CATEGORY_LINES = [
    json.dumps(chat()),                                                                         # 1 valid
    "[]",                                                                                       # 2 data_type
    '{"msgs": []}',                                                                    # 3 missing_messages_list
    '{"messages": [{"role": "user"}, {"role": "assistant", "content": "x"}]}',                  # 4 message_missing_key
    '{"messages": [{"role": "user", "content": "a", "x": 1}, {"role": "assistant", "content": "b"}]}',  # 5 key
    '{"messages": [{"role": "robot", "content": "a"}, {"role": "assistant", "content": "b"}]}',  # 6 unrecognized_role
    '{"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "b"}]}',   # 7 missing_content
    '{"messages": [{"role": "user", "content": "a"}]}',                                         # 8 no assistant
    '{"messages": [{"role": "user"}, {"role": "system"}, {"role": "assistant", "content": "b"}]}',  # 9 missing key x2
    "not json",                                                                                 # 10 data_type
]


def test_each_category_counted_per_example(tmp_path):
    result = check_file(write_lines(tmp_path / "cats.jsonl", CATEGORY_LINES), quiet=True)
    assert result.n_examples == 10
    assert result.format_errors == {
        "data_type": 2,
        "missing_messages_list": 1,
        "message_missing_key": 2,
        "message_unrecognized_key": 1,
        "unrecognized_role": 1,
        "missing_content": 1,
        "example_missing_assistant_message": 1,
    }
    assert list(result.format_errors) == list(FORMAT_ERROR_CATEGORIES)
    assert result.n_valid == 1
    assert [(p["location"].rsplit(":", 1)[1], p["category"]) for p in result.problems] == [
        ("2", "data_type"), ("3", "missing_messages_list"), ("4", "message_missing_key"),
        ("5", "message_unrecognized_key"), ("6", "unrecognized_role"), ("7", "missing_content"),
        ("8", "example_missing_assistant_message"), ("9", "message_missing_key"), ("10", "data_type"),
    ]
    assert result.problems[-1]["detail"] == "invalid JSON: Expecting value (column 1)"
    assert result.problems[0]["detail"] == "the line is an array, expected an object"
    # lines 1 and 4-9 have a messages list: 4-8 lack a system message (9 has one), 6 lacks a user message
    assert (result.n_missing_system, result.n_missing_user) == (5, 1)


@pytest.mark.parametrize(("example", "expected"), [
    ({"messages": "hello"}, [("missing_messages_list", "'messages' is a string, expected an array")]),
    ({"messages": []}, [("missing_messages_list", "'messages' is empty")]),
    ({"messages": ["role", {"role": "assistant", "content": "x"}]},
     [("message_missing_key", "message 0 is a string, not an object")]),
    ({"messages": [{}]}, [("message_missing_key", "message 0 has no role and content"),
                          ("example_missing_assistant_message", "no message with role 'assistant'")]),
    ({"messages": [{"role": ["assistant"], "content": "x"}]},
     [("unrecognized_role", 'message 0 has role ["assistant"]'),
      ("example_missing_assistant_message", "no message with role 'assistant'")]),
    ({"messages": [{"role": "assistant", "content": [{"type": "text", "text": "x"}]}]},
     [("missing_content", "message 0 content is an array, expected a string")]),
    ({"messages": [{"role": "assistant", "content": "  \n"}]}, [("missing_content", "message 0 has blank content")]),
    ({"messages": [{"role": "assistant", "content": None}]},
     [("missing_content", "message 0 content is null, expected a string")]),
    ({"messages": [{"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}]}, []),
    ({"messages": [{"role": "user", "content": "a", "name": "bob", "weight": 1},
                   {"role": "assistant", "content": "b", "weight": 0}]}, []),
    ({"messages": [{"role": "tool", "content": "a", "tool_call_id": "1"}, {"role": "assistant", "content": "b"}]},
     [("message_unrecognized_key", "message 0 has unrecognized key(s) 'tool_call_id'"),
      ("unrecognized_role", 'message 0 has role "tool"')]),
    (["messages"], [("data_type", "the line is an array, expected an object")]),
    (3, [("data_type", "the line is a number, expected an object")]),
])
def test_format_problems_edge_cases(example, expected):
    assert format_problems(example) == expected


def test_unreadable_lines_are_data_type_errors(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(json.dumps(chat()).encode() + b"\n" + b"\xff\xfe{}\n" + b"\n" + b'{"a": NaN}\n'
                     + b"\xef\xbb\xbf" + json.dumps(chat()).encode() + b"\r\n" + json.dumps(chat()).encode())
    result = check_file(path, quiet=True)
    assert result.n_examples == 6
    assert result.format_errors["data_type"] == 4
    assert [(p["location"], p["detail"]) for p in result.problems] == [
        (f"{path}:2", "invalid UTF-8 at byte 1 of the line"),
        (f"{path}:3", "blank line"),
        (f"{path}:4", "invalid JSON: NaN is not valid JSON"),
        (f"{path}:5", "invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) (column 1)"),
    ]
    assert result.n_valid == 2  # CRLF line ending and a last line without newline are fine
    assert result.n_duplicates == 1


def test_missing_file_is_one_data_type_error(tmp_path):
    result = check_file(tmp_path / "absent.jsonl", quiet=True)
    assert result.n_examples == 0
    assert result.format_errors["data_type"] == 1
    assert result.problems == [{"location": f"{tmp_path / 'absent.jsonl'}:0", "category": "data_type",
                                "detail": "cannot read file: No such file or directory"}]
    assert result.n_epochs == 0 and result.billing_tokens == 0
    assert check_file(tmp_path, quiet=True).format_errors["data_type"] == 1  # a folder


def test_token_counts_follow_the_cookbook():
    encoding = get_encoding()
    assert [len(encoding.encode_ordinary(t)) for t in ("You are x.", "hello world", "hi", "bob")] == [4, 2, 1, 1]
    plain = check_examples([chat()])
    # 3 messages x 3 + roles (1 + 1 + 1) + reply priming 3 + contents 4 + 2 + 1
    assert plain.distributions["total_tokens"]["max"] == 22
    assert plain.distributions["assistant_tokens"]["max"] == 1
    named = chat()
    named["messages"][1]["name"] = "bob"
    named["messages"][2]["weight"] = 1
    # + 1 token for "bob" + 1 per name; weight adds nothing
    assert check_examples([named]).distributions["total_tokens"]["max"] == 24
    call = {"name": "f", "arguments": "{}"}
    function = {"messages": [{"role": "user", "content": "hello world"},
                             {"role": "assistant", "content": None, "function_call": call}]}
    call_tokens = len(encoding.encode_ordinary('{"name":"f","arguments":"{}"}'))
    result = check_examples([function])
    assert result.distributions["total_tokens"]["max"] == 2 * 3 + 2 + 3 + 2 + call_tokens
    assert result.distributions["assistant_tokens"]["max"] == 0


def test_special_token_strings_are_counted_as_text_and_flagged():
    examples = [chat(assistant="a <|endoftext|> b"), chat(user="<|im_start|>user"), chat()]
    result = check_examples(examples)
    assert result.n_format_errors == 0
    assert result.n_special_token_examples == 2
    assert result.special_tokens == {"<|endoftext|>": 1, "<|im_start|>": 1}
    assert result.distributions["assistant_tokens"]["max"] == 9  # "a <|endoftext|> b" as ordinary text
    assert [s["location"] for s in result.special] == ["<examples>:1", "<examples>:2"]


def test_duplicates_ignore_key_order(tmp_path):
    first = '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}'
    reordered = '{"messages": [{"content": "a", "role": "user"}, {"content": "b", "role": "assistant"}]}'
    other = '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "c"}]}'
    result = check_file(write_lines(tmp_path / "d.jsonl", [first, other, reordered, first]), quiet=True)
    assert result.n_duplicates == 2
    assert result.duplicates == [
        {"location": f"{tmp_path / 'd.jsonl'}:3", "duplicate_of": f"{tmp_path / 'd.jsonl'}:1"},
        {"location": f"{tmp_path / 'd.jsonl'}:4", "duplicate_of": f"{tmp_path / 'd.jsonl'}:1"},
    ]


def test_distributions_epochs_billing_and_cost(tmp_path):
    # assistant contents of 1..10 tokens ("x" then " x" repeated), total = 22 - 1 + n
    assistants = ["x" + " x" * (n - 1) for n in range(1, 11)]
    encoding = get_encoding()
    assert [len(encoding.encode_ordinary(a)) for a in assistants] == list(range(1, 11))
    lines = [json.dumps(chat(assistant=a)) for a in assistants]
    result = check_file(write_lines(tmp_path / "ten.jsonl", lines), quiet=True)
    assert result.n_examples == result.n_valid == 10
    assert result.distributions == {
        "messages": {"min": 3, "max": 3, "mean": 3.0, "median": 3.0, "p5": 3, "p95": 3},
        "total_tokens": {"min": 22, "max": 31, "mean": 26.5, "median": 26.5, "p5": 22, "p95": 31},
        "assistant_tokens": {"min": 1, "max": 10, "mean": 5.5, "median": 5.5, "p5": 1, "p95": 10},
    }
    assert result.n_epochs == 10  # 10 examples x 3 < 100: 100 // 10
    assert result.billing_tokens == 10 * 265
    assert result.estimated_cost_usd == 0.00795  # 2,650 tokens at $3.00 per 1M
    assert not result.too_few_examples
    assert result.warnings() == []


def test_over_limit_and_too_few(tmp_path):
    tiny = ModelSpec("tiny", "o200k_base", 20, 2.0)
    lines = [json.dumps(chat()), json.dumps(chat(system=None))]  # 22 and 22 - 3 - 1 - 4 = 14 tokens
    result = check_file(write_lines(tmp_path / "t.jsonl", lines), tiny, quiet=True)
    assert result.distributions["total_tokens"]["max"] == 22
    assert result.distributions["total_tokens"]["min"] == 14
    assert result.n_over_limit == 1
    assert result.over_limit == [{"location": f"{tmp_path / 't.jsonl'}:1", "tokens": 22}]
    assert result.n_epochs == 25
    assert result.billing_tokens == 25 * (20 + 14)
    assert result.estimated_cost_usd == 0.0017
    assert result.too_few_examples
    assert result.n_missing_system == 1
    assert result.warnings() == [
        "only 2 valid example(s): fine-tuning needs at least 10",
        "1 example(s) exceed the 20-token limit of tiny and will be truncated",
        "1 example(s) have no system message",
    ]


def test_meta_sidecar_counts(tmp_path):
    data = write_lines(tmp_path / "train.jsonl", [json.dumps(chat(user=f"SELECT {i}")) for i in range(3)])
    write_lines(tmp_path / "train.meta.jsonl", [
        json.dumps({"strategy": "FixMDistinctL", "dbms": "mysql"}),
        json.dumps({"strategy": "FixMDistinctL", "dbms": "mariadb"}),
        json.dumps({"strategy": "FixMWhere1U", "dbms": "mysql"}),
    ])
    result = check_file(data, quiet=True)
    assert result.counts == {
        "by_strategy": {"FixMDistinctL": 2, "FixMWhere1U": 1},
        "by_dbms": {"mariadb": 1, "mysql": 2},
        "by_strategy_dbms": {"FixMDistinctL": {"mariadb": 1, "mysql": 1}, "FixMWhere1U": {"mysql": 1}},
    }
    assert check_file(data, meta=False, quiet=True).counts is None
    write_lines(tmp_path / "train.meta.jsonl", [json.dumps({"strategy": "FixMDistinctL", "dbms": "mysql"})])
    short = check_file(data, quiet=True)
    assert short.counts is None
    assert short.notes == ["sidecar not used: train.meta.jsonl has 1 lines for 3 examples"]


def test_example_digest_equals_only_equal_values():
    from exporters.check import _example_digest

    base = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    same = {"messages": [{"content": "a", "role": "user"}, {"content": "b", "role": "assistant"}]}
    assert _example_digest(base) == _example_digest(same)
    different = [
        {"messages": [{"role": "user", "content": "ab"}, {"role": "assistant", "content": ""}]},  # shifted text
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 1}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "x": None},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ["b"]}]},
        {"messages": [{"role": "user", "content": "a"}, '{"role": "assistant", "content": "b"}']},
        {"messages": "a"},
    ]
    digests = {_example_digest(example) for example in different}
    assert len(digests) == len(different) and _example_digest(base) not in digests
