import copy

import pytest
import yaml

from intents import DEFAULT_CATALOGUE, CatalogueError, load_catalogue, parse_catalogue


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(DEFAULT_CATALOGUE.read_text())


def test_shipped_catalogue_is_complete():
    cat = load_catalogue()
    assert len(cat.intents) >= 30
    for name in ("order_status", "refund_status", "cancel_subscription", "speak_to_human", "delete_account",
                 "double_charge", "complaint", "greeting", "thanks"):
        assert name in cat
    for intent in cat.intents.values():
        assert len(intent.examples) >= 15, intent.name
        assert intent.replies and intent.description
    assert cat["speak_to_human"].handoff and cat["complaint"].handoff
    assert not cat["order_status"].handoff
    assert len(cat.out_of_scope_examples) >= 30
    pairs = cat.training_pairs()
    assert ("where is my order", "order_status") in pairs and pairs[-1][1] == "oos"


def _broken(raw, change):
    data = copy.deepcopy(raw)
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format_version=2), r"unsupported format_version 2"),
    (lambda d: d.pop("format_version"), r"unsupported format_version None"),
    (lambda d: d.update(colour="red"), r"unknown top-level field\(s\) \['colour'\]"),
    (lambda d: d["intents"].append(copy.deepcopy(d["intents"][0])), r"intent 'order_status': duplicate intent"),
    (lambda d: d["intents"][1]["examples"].append("where is my order"),
     r"intent 'delivery_problem': example 'where is my order' is also listed under 'order_status'"),
    (lambda d: d["intents"][2].pop("replies"), r"intent 'missing_item': 'replies' is missing"),
    (lambda d: d["intents"][2].update(replies=[]), r"intent 'missing_item': missing replies"),
    (lambda d: d["intents"][0].update(examples=["a", "b"]), r"intent 'order_status': too few examples \(2\)"),
    (lambda d: d["intents"][0].update(colour="red"), r"intent 'order_status': unknown field\(s\) \['colour'\]"),
    (lambda d: d["intents"][0].update(priority="asap"), r"priority 'asap' is not one of"),
    (lambda d: d["intents"][0].update(handoff="yes"), r"'handoff' must be true or false"),
    (lambda d: d["intents"][0].update(name="oos"), r"'oos' is reserved"),
    (lambda d: d.update(fallback_replies=[]), r"'fallback_replies' needs at least one reply"),
    (lambda d: d["intents"][0]["examples"].append(""), r"'examples' must be a list of non-empty strings"),
])
def test_bad_catalogue_is_rejected_with_a_precise_message(raw, change, message):
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(_broken(raw, change), source="shop.yaml")


def test_error_names_the_file(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text("format_version: 1\nintents: [")
    with pytest.raises(CatalogueError, match=r"shop.yaml: not valid YAML"):
        load_catalogue(path)
    with pytest.raises(CatalogueError, match=r"missing.yaml: cannot read the catalogue"):
        load_catalogue(tmp_path / "missing.yaml")


def test_add_intent_appends_and_validates(tmp_path):
    import shutil

    from intents import DEFAULT_CATALOGUE, CatalogueError, load_catalogue
    from intents.editing import add_intent

    path = tmp_path / "catalogue.yaml"
    shutil.copy(DEFAULT_CATALOGUE, path)
    examples = ["do you do gift wrapping", "can you gift wrap my order", "gift wrap please", "is gift wrapping free",
                "wrap it as a present", "where is my order"]   # the last one already belongs to order_status
    catalogue = add_intent(path, "gift_wrapping", examples)
    assert "gift_wrapping" in catalogue and "gift_wrapping" in load_catalogue(path)
    assert "where is my order" not in load_catalogue(path)["gift_wrapping"].examples
    assert load_catalogue(path)["gift_wrapping"].handoff is True
    assert "# Helpline intent catalogue" in path.read_text()          # people's comments are kept
    with pytest.raises(CatalogueError, match="already exists"):
        add_intent(path, "gift_wrapping", examples)
    with pytest.raises(CatalogueError, match="must be lower case"):
        add_intent(path, "Gift Wrapping!", examples)
    before = path.read_text()
    with pytest.raises(CatalogueError, match="too few examples|at least"):
        add_intent(path, "tiny", ["one example"])
    assert path.read_text() == before                                 # an invalid result is not written


def test_edits_are_recorded_and_never_overwrite_a_newer_edit(tmp_path):
    import json
    import shutil

    from intents import DEFAULT_CATALOGUE, CatalogueError
    from intents.audit import audit_path, fingerprint
    from intents.canned import DEFAULT_CANNED, load_canned, save_canned
    from intents.editing import add_intent

    catalogue = tmp_path / "catalogue.yaml"
    shutil.copy(DEFAULT_CATALOGUE, catalogue)
    add_intent(catalogue, "gift_wrapping", ["do you gift wrap", "gift wrap my order", "is gift wrapping free",
                                            "wrap it as a present", "gift wrapping please"], who="ana")
    [record] = [json.loads(line) for line in audit_path(catalogue).read_text().splitlines()]
    assert record["who"] == "ana" and record["file"] == "catalogue.yaml"
    assert "+  - name: gift_wrapping" in record["diff"]
    assert record["after"] == fingerprint(catalogue.read_text()) and record["time"]

    canned = tmp_path / "canned.yaml"
    shutil.copy(DEFAULT_CANNED, canned)
    loaded = fingerprint(canned.read_text())                       # two agents load the same file
    first = "format_version: 1\nresponses:\n  - title: Hello\n    text: Hi there!\n"
    save_canned(canned, first, who="ana", expected=loaded)
    second = "format_version: 1\nresponses:\n  - title: Bye\n    text: Goodbye!\n"
    with pytest.raises(CatalogueError, match="changed by someone else since you loaded it; load it again"):
        save_canned(canned, second, who="bo", expected=loaded)     # bo's older copy does not win silently
    assert [r.title for r in load_canned(canned)] == ["Hello"]
    save_canned(canned, second, who="bo", expected=fingerprint(first))
    assert [json.loads(line)["who"] for line in audit_path(canned).read_text().splitlines()] == ["ana", "bo"]
