"""`python -m finetune train/evaluate` through their main(argv), on tiny data and the tiny encoder."""
import json

import pytest

from bot import HelplineModel
from finetune.__main__ import main as cli


def test_evaluate_writes_the_json_report(tiny_model_dir, tiny_data, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = cli(["evaluate", "--model", tiny_model_dir, "--intent-test", tiny_data["test"],
                "--emotion-test", tiny_data["emotion_test"], "--output", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("intent_accuracy", "intent_macro_f1", "in_scope_accuracy", "oos_recall", "emotion_macro_f1",
                "emotion_micro_f1", "n_intent", "n_emotion", "per_intent", "confused_pairs", "emotion_f1"):
        assert key in result
    assert result["n_intent"] == 12 and result["n_emotion"] == 10
    assert 0.0 <= result["intent_accuracy"] <= 1.0
    printed = capsys.readouterr().out
    assert "macro-F1" in printed and "order_status" in printed


def test_evaluate_lists_unknown_labels(tiny_model_dir, tmp_path, capsys):
    test = tmp_path / "test.csv"
    test.write_text("text,intent\nhi,greeting\nfly me to rome,book_flight\nweather,get_weather\n")
    assert cli(["evaluate", "--model", tiny_model_dir, "--intent-test", str(test)]) == 2
    assert "2 intent label(s) the model does not know: ['book_flight', 'get_weather']" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (None, "no such file or directory"),
    ("", "the file is empty"),
    ("message,intent\nhi,greet\n", "missing a text column"),
    ("text,intent\nhi,greet\nhello,greet\nbye,bye\n", "intent(s) with fewer than 2 examples: ['bye']"),
])
def test_train_reports_bad_input_without_a_traceback(tiny_base, tiny_data, tmp_path, capsys, content, message):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    code = cli(["train", "--intent-data", str(path), "--emotion-data", tiny_data["emotions"],
                "--base-model", tiny_base, "--output", str(tmp_path / "m"), "--max-steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_usage_without_a_command(capsys):
    assert cli([]) == 2
    assert "train" in capsys.readouterr().err


def test_init_from_keeps_heads_and_adds_new_intents(tiny_model_dir, tiny_data, tmp_path):
    extra = tmp_path / "more.csv"
    extra.write_text("text,intent\n" + "".join(f"{t},invoice\n" for t in
                                               ["send my invoice", "need a receipt", "vat invoice please"]))
    before = HelplineModel.from_pretrained(tiny_model_dir, backend="torch")
    cli(["train", "--intent-data", tiny_data["intents"], str(extra), "--init-from", tiny_model_dir,
         "--output", str(tmp_path / "m2"), "--max-steps", "2", "--batch-size", "4", "--no-upset-head"])
    after = HelplineModel.from_pretrained(tmp_path / "m2", backend="torch")
    assert after.intent_labels == before.intent_labels + ["invoice"]
    # with no emotion data the emotion head is carried over untouched
    import torch
    assert torch.equal(after.network.emotion_head.weight, before.network.emotion_head.weight)


@pytest.mark.parametrize("command, option", [("train", "--emotion-examples-per-epoch"), ("evaluate", "--intent-test")])
def test_help_lists_the_options(command, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli([command, "--help"])
    assert exit_info.value.code == 0
    assert option in capsys.readouterr().out


def test_one_entry_point_dispatches_every_command(tiny_model_dir, tiny_data, tmp_path, capsys):
    import helpline

    assert helpline.main(["classify", "--model", tiny_model_dir, "where is my order"]) == 0       # the runtime's
    assert json.loads(capsys.readouterr().out.splitlines()[0])["text"] == "where is my order"
    output = tmp_path / "starter.yaml"
    assert helpline.main(["catalogue", "--intent-data", tiny_data["intents"], "--output", str(output)]) == 0
    assert output.is_file()                                                                      # training's
    with pytest.raises(SystemExit) as shown:
        helpline.main(["serve", "--help"])                                                       # the app's
    assert shown.value.code == 0 and "--forwarded-allow-ips" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        helpline.main(["nope"])
    assert refused.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as shown:
        helpline.main(["--help"])
    listed = capsys.readouterr().out
    assert shown.value.code == 0 and all(name in listed for name in ("register", "analyze", "serve"))


def test_every_command_has_the_one_shape_and_kebab_case_flags():
    """Each command's module registers its parser and runs it (bot/cli/__init__.py); its flags are kebab-case."""
    import argparse
    import importlib

    import helpline

    for name, command in helpline.COMMANDS.items():
        if name == "serve":
            continue
        module = importlib.import_module(command.module)
        subparsers = argparse.ArgumentParser().add_subparsers()
        parser = module.add_parser(subparsers, name, command.help)
        assert parser.get_default("run") is module.run or name == "agents", name
        long_flags = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
        # training's dataclass flags also read the underscore spelling; each has its kebab-case twin
        assert all("_" not in flag or flag.replace("_", "-") in long_flags for flag in long_flags), (name, long_flags)


def test_bad_input_is_one_line_and_ctrl_c_no_traceback(tmp_path, capsys, monkeypatch):
    from bot.cli import RUNTIME, run_commands

    assert run_commands("python -m bot", RUNTIME, ["classify", "--model", str(tmp_path / "none"), "hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and len(err.strip().splitlines()) == 1

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("bot.cli.classify.run", interrupted)
    assert run_commands("python -m bot", RUNTIME, ["classify", "hi"]) == 130
    assert "Traceback" not in capsys.readouterr().err
