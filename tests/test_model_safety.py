"""A broken model never reaches customers: loading checks its outputs against its labels with a test prediction,
saving leaves no stale ONNX graph behind, promotion loads the candidate first, and a model that fails to load
keeps the previous one serving while /api/health says why."""
import json
import shutil

import pytest
from fastapi.testclient import TestClient

from bot.conversation.service import Helpline
from bot.model.format import METADATA_FILE, ONNX_FILE
from bot.model.helpline_model import HelplineModel
from bot.registry.versions import Registry, RegistryError
from bot.serving.api import create_api
from bot.serving.reloader import ModelWatcher
from bot.store.conversations import Store
from intents import load_catalogue


def broken_copy(source: str, target) -> str:
    """The model with one intent label fewer in helpline.json than its graph outputs."""
    shutil.copytree(source, target)
    meta_path = target / METADATA_FILE
    meta = json.loads(meta_path.read_text())
    meta["intent_labels"] = meta["intent_labels"][:-1]
    meta_path.write_text(json.dumps(meta))
    return str(target)


def test_labels_that_do_not_match_the_outputs_fail_at_load(tiny_model_dir, tmp_path):
    broken = broken_copy(tiny_model_dir, tmp_path / "broken")
    assert (tmp_path / "broken" / ONNX_FILE).is_file()
    with pytest.raises(ValueError, match=r"gives \d+ intent scores but helpline.json lists \d+ intent labels"):
        HelplineModel.from_pretrained(broken, backend="onnx")
    with pytest.raises(ValueError, match="heads.safetensors does not match the labels in helpline.json"):
        HelplineModel.from_pretrained(broken, backend="torch")


def test_save_pretrained_leaves_no_stale_onnx_graph(tiny_model_dir, tmp_path):
    target = tmp_path / "resaved"
    shutil.copytree(tiny_model_dir, target)
    HelplineModel.from_pretrained(tiny_model_dir, backend="torch").save_pretrained(target)
    assert not (target / ONNX_FILE).exists() and "onnx" not in json.loads((target / METADATA_FILE).read_text())
    assert HelplineModel.from_pretrained(target).backend == "torch"


def test_promotion_loads_the_candidate_first(tiny_model_dir, tmp_path):
    registry = Registry(tmp_path / "registry")
    shutil.copytree(tiny_model_dir, registry.path_of("v1"))
    registry.add("v1", {"intent_accuracy": 0.5})
    broken_copy(tiny_model_dir, registry.path_of("v2"))
    registry.add("v2", {"intent_accuracy": 0.9})
    with pytest.raises(RegistryError, match="v2 cannot serve, so it was not promoted"):
        registry.promote("v2", force=True, reason="testing", validate=HelplineModel.from_pretrained)
    assert registry.serving == "v1"


def test_a_model_that_fails_to_load_keeps_the_old_one_and_health_says_why(tiny_model_dir, tmp_path):
    serving = tmp_path / "serving"
    shutil.copytree(tiny_model_dir, serving)
    helpline = Helpline(HelplineModel.from_pretrained(serving), load_catalogue(),
                        Store(f"sqlite:///{tmp_path / 'h.db'}"))
    old = helpline.classifier
    watcher = ModelWatcher(helpline, str(serving), HelplineModel.from_pretrained)
    shutil.rmtree(serving)
    broken_copy(tiny_model_dir, serving)  # a bad model copied over the serving one
    assert watcher.check() is False and helpline.classifier is old
    api = TestClient(create_api(lambda: helpline, lambda: None,
                                serving_status=lambda: {"model_error": watcher.last_error}))
    health = api.get("/api/health").json()
    assert health["status"] == "degraded" and "intent labels" in health["model_error"]
    assert api.post("/api/chat", json={"message": "where is my order"}).status_code == 200  # still serving
