"""Every command-line flag the docs name exists: a flag written after a command (`python -m bot analyze --report`)
is in that command's --help, and any other flag the docs name is in some command's --help. Docs drift silently
otherwise (a removed `--csat-from-star` stayed in docs/sentiment.md for a release)."""
import contextlib
import importlib
import io
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DOCS = [ROOT / "README.md", ROOT / "SECURITY.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"python (-m (?:bot|finetune) [a-z][a-z-]*[a-z](?: (?:add|passwd|disable|admin|purge))?|app\.py|"
                     r"benchmarks/[a-z_]+\.py)")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9_-]*[a-z0-9]")
# flags of other programs the docs show beside ours
OTHER_PROGRAMS = {"--index-url", "--extra-index-url", "--upgrade", "--no-deps", "--no-index", "--address",
                  "--head", "--port", "--num-cpus", "--help", "--fix"}


def code_of(text: str) -> list[str]:
    """The docs' code: fenced blocks line by line and `inline` spans."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    rest = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return lines + re.findall(r"`([^`\n]+)`", rest)


def named_flags() -> tuple[dict[str, set[str]], set[str]]:
    """({command: flags written after it}, every flag named anywhere in the docs' code)."""
    by_command, everywhere = {}, set()
    for doc in DOCS:
        for code in code_of(doc.read_text(encoding="utf-8")):
            code = code.split(" #")[0]
            everywhere |= set(FLAG.findall(code))
            for command, after in zip(COMMAND.findall(code), COMMAND.split(code)[2::2]):
                by_command.setdefault(command, set()).update(FLAG.findall(after))
    return by_command, everywhere - OTHER_PROGRAMS


def help_of(command: str) -> str:
    """The command's --help text, read in this process where that is cheap."""
    out = io.StringIO()
    if command.startswith("-m "):
        package, *words = command[3:].split()
        main = importlib.import_module(f"{package}.__main__").main
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), pytest.raises(SystemExit):
            main([*words, "--help"])
        return out.getvalue()
    if command.startswith("benchmarks/"):
        main = importlib.import_module(f"benchmarks.{command[11:-3]}").main
        with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
            main(["--help"])
        return out.getvalue()
    return subprocess.run([sys.executable, command, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120).stdout


BY_COMMAND, EVERYWHERE = named_flags()
HELP = {}


def helped(command: str) -> str:
    if command not in HELP:
        HELP[command] = help_of(command)
    return HELP[command]


def test_the_docs_name_commands_and_flags():
    assert {"-m bot analyze", "-m finetune train", "app.py"} <= set(BY_COMMAND) and len(EVERYWHERE) > 30


@pytest.mark.parametrize("command", sorted(BY_COMMAND))
def test_every_flag_written_after_a_command_is_in_its_help(command):
    text = helped(command)
    assert "usage" in text.lower(), f"python {command} --help printed no usage"
    missing = sorted(flag for flag in BY_COMMAND[command] - OTHER_PROGRAMS if not re.search(
        rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text))
    assert not missing, f"docs name {missing} for `python {command}`, which has no such flag"


def test_every_flag_the_docs_name_belongs_to_some_command():
    helps = "\n".join(helped(c) for c in BY_COMMAND)
    missing = sorted(flag for flag in EVERYWHERE if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", helps))
    assert not missing, f"docs name flags no command has: {missing}"
