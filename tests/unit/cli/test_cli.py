"""The ``alstream`` command: subcommands, help with examples, errors as one line."""

from __future__ import annotations

import httpx
import pytest

from services.cli import main as cli
from services.cli.commands import COMMANDS
from services.cli.commands import common as cli_common
from services.cli.commands.common import describe
from services.cli.commands.ingest import rows


def test_every_subcommand_has_help_with_examples(capsys):
    for name in COMMANDS:
        if getattr(cli.command_modules()[name], "PASSTHROUGH", False):
            continue  # `alstream eval --help` is the evaluator's own help
        with pytest.raises(SystemExit) as done:
            cli.main([name, "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "examples:" in out and f"alstream {name}" in out, name


def test_required_subcommands_are_there():
    assert {"run", "serve", "ingest", "classify", "eval", "demo"} <= set(COMMANDS)


def test_unknown_options_are_refused_except_for_passthrough(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["classify", "x", "--nope"])
    assert done.value.code == 2
    assert "unrecognized arguments: --nope" in capsys.readouterr().err


def test_eval_passes_its_arguments_through(monkeypatch):
    seen = {}

    def fake_main(argv):
        seen["argv"] = argv
        return 0

    import services.eval.__main__ as eval_main

    monkeypatch.setattr(eval_main, "main", fake_main)
    assert cli.main(["eval", "--stream", "s.jsonl", "--seeds", "2"]) == 0
    assert seen["argv"] == ["--stream", "s.jsonl", "--seeds", "2"]


def test_ingest_reads_ndjson_and_csv_with_line_numbers(tmp_path):
    nd = tmp_path / "d.ndjson"
    nd.write_text('{"id": 1, "text": "a", "metadata": {"k": "v"}}\n\n[1]\nnope\n{"text": "b"}\n')
    got = list(rows(str(nd), "text", "id"))
    assert got[0] == (1, {"text": "a", "id": "1", "metadata": {"k": "v"}})
    assert [n for n, d in got if "_error" in d] == [3, 4]
    assert got[-1] == (5, {"text": "b"})
    csv_path = tmp_path / "d.csv"
    csv_path.write_text("ticket,body\nT1,hello\n")
    assert list(rows(str(csv_path), "body", "ticket")) == [(2, {"text": "hello", "id": "T1"})]


def test_validation_details_read_as_field_and_message():
    detail = [{"type": "string_too_short", "loc": ["body", "batch", "documents", 0, "text"],
               "msg": "String should have at least 1 character"}]
    assert describe(detail) == "text: String should have at least 1 character"
    assert describe("plain") == "plain"


def test_classify_prints_the_answer_and_fails_in_one_line(monkeypatch, capsys):
    answers = iter([
        httpx.Response(200, json={"label": "sports", "probabilities": {"sports": 0.8,
                                  "tech": 0.2}, "confidence": 0.8, "model_version": 4}),
        httpx.Response(422, json={"detail": [{"loc": ["body", "text"], "msg": "too long"}]}),
    ])
    real_client = cli_common.Client

    def fake_client(*args, **kwargs):
        return real_client(*args, transport=httpx.MockTransport(lambda r: next(answers)),
                           **kwargs)

    monkeypatch.setattr(cli_common, "Client", fake_client)
    assert cli.main(["classify", "The goalie stopped 40 shots"]) == 0
    assert "sports  (confidence 0.80; model v4" in capsys.readouterr().out
    assert cli.main(["classify", "x" * 10]) == 1
    assert capsys.readouterr().err.strip() == "alstream: HTTP 422: text: too long"


def test_settings_lists_every_variable(capsys):
    assert cli.main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "`ALSTREAM_LABEL_BUDGET`" in out and "`ALSTREAM_HTTP_HOST`" in out


def test_delegated_commands_hand_their_arguments_to_the_owning_module(monkeypatch):
    import sys
    import types

    from services.cli.commands import keys

    seen = {}
    fake = types.ModuleType("fake_keys_cli")
    fake.main = lambda argv: seen.setdefault("argv", argv) and 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_keys_cli", fake)
    monkeypatch.setattr(keys, "TARGET", "fake_keys_cli:main")
    assert cli.main(["keys", "create", "--role", "app", "--name", "svc"]) == 0
    assert seen["argv"] == ["create", "--role", "app", "--name", "svc"]


def test_a_delegated_command_missing_from_this_build_says_so(monkeypatch, capsys):
    from services.cli.commands import pin

    monkeypatch.setattr(pin, "TARGET", "services.no_such_module:main")
    assert cli.main(["pin", "3"]) == 2
    assert "not part of this build" in capsys.readouterr().err
