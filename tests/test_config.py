"""One place for configuration: every HELPLINE_* variable is declared in bot/config.py, documented in README's
settings table, and read nowhere else."""
import re
from pathlib import Path

import pytest

from bot import config

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for folder in ("bot", "finetune", "ui", "intents") for p in (ROOT / folder).rglob("*.py")] + \
    [ROOT / "app.py"]


def test_readme_documents_exactly_the_declared_variables():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Settings"):readme.index("## Documentation")]
    documented = set(re.findall(r"`(HELPLINE_[A-Z_]+)`", table))
    assert documented == set(config.VARIABLES) - {"HELPLINE_DEBUG"}   # (a developer's switch, in docs/development.md)


def test_no_module_reads_a_helpline_variable_but_the_config():
    direct = re.compile(r"os\.environ(?:\.get)?[\[(]\s*\"HELPLINE_")
    readers = [str(p.relative_to(ROOT)) for p in SOURCES if p.name != "config.py" and direct.search(p.read_text())]
    assert readers == ["app.py"]   # its offline switch runs before any import that could reach for the Hub


def test_values_defaults_and_lists(monkeypatch):
    monkeypatch.delenv("HELPLINE_DB", raising=False)
    assert config.value("HELPLINE_DB") == "sqlite:///helpline.db"
    monkeypatch.setenv("HELPLINE_DB", "")                      # empty counts as unset
    assert config.value("HELPLINE_DB") == "sqlite:///helpline.db"
    monkeypatch.setenv("HELPLINE_TRUSTED_PROXIES", " 10.0.0.0/8, ,::1 ")
    assert config.listed("HELPLINE_TRUSTED_PROXIES") == ["10.0.0.0/8", "::1"]
    with pytest.raises(KeyError):
        config.value("HELPLINE_NOT_A_SETTING")               # a typo fails loudly, not as a silent default
