"""Dependencies point one way: app.py -> ui/ -> bot/ -> intents/; inside bot/, the store saves and reads and never
imports the conversation logic that decides (bot/conversation imports the store, not the other way round), and
finetune/ never imports serving code. Read from the source, so a new import that breaks the rule fails here."""
import ast

import pytest

from tests.conftest import ROOT


def imports_of(folder: str) -> dict[str, set[str]]:
    """{module file: the project modules it imports, at any depth of the file}."""
    found = {}
    for path in (ROOT / folder).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("folder, forbidden", [
    ("bot/store", ("bot.conversation", "bot.serving", "ui", "app", "finetune")),
    ("bot", ("ui", "app", "finetune")),
    ("intents", ("bot", "ui", "app", "finetune")),
    ("finetune", ("bot.serving", "ui", "app")),
])
def test_imports_point_one_way(folder, forbidden):
    broken = {path: sorted(name for name in names if name.split(".")[0] in {f.split(".")[0] for f in forbidden}
                           and any(name == f or name.startswith(f + ".") for f in forbidden))
              for path, names in imports_of(folder).items()}
    assert not {path: names for path, names in broken.items() if names}
