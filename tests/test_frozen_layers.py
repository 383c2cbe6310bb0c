"""--frozen-layers: the lowest layers are run once per message, cached, and skipped by every training step."""
from __future__ import annotations

import pytest
import torch

from bot import HelplineModel
from finetune.batching import pad_batch
from finetune.device import TrainingDevice
from finetune.frozen_layers import FrozenLayers, layer_list

CPU = TrainingDevice("cpu", False)
TEXTS = ["where is my order", "refund please", "hi", "cancel my subscription right now please"]


def tiny_model(tiny_base) -> HelplineModel:
    torch.manual_seed(0)
    return HelplineModel.from_base(tiny_base, ["a", "b"], ["joy", "anger"])


def test_cached_states_give_what_the_whole_encoder_computes(tiny_base):
    model = tiny_model(tiny_base)
    ids = model.tokenizer(TEXTS)["input_ids"]
    frozen = FrozenLayers(model.network, 1, pad_id=0)
    states = frozen.precompute(ids, CPU, what="test")
    assert [s.shape[0] for s in states] == [len(x) for x in ids] and states[0].dtype == torch.float16
    real_layers = list(layer_list(model.network.encoder))
    model.network.eval()
    with torch.no_grad():
        expected = model.network(**pad_batch(ids, 0))
        with frozen.skipping():
            assert layer_list(model.network.encoder)[0] is not real_layers[0]
            cached = model.network(**frozen.batch(ids, states, CPU))
        again = model.network(**pad_batch(ids, 0))
    for want, got in zip(expected, cached):
        torch.testing.assert_close(got, want, atol=2e-3, rtol=1e-3)  # float16 cache
    assert list(layer_list(model.network.encoder)) == real_layers  # the real layers are back
    for want, got in zip(expected, again):
        torch.testing.assert_close(got, want)


def test_frozen_parts_get_no_gradient(tiny_base):
    model = tiny_model(tiny_base)
    FrozenLayers(model.network, 1, pad_id=0)
    layers = layer_list(model.network.encoder)
    assert not any(p.requires_grad for p in model.network.encoder.embeddings.parameters())
    assert not any(p.requires_grad for p in layers[0].parameters())
    assert all(p.requires_grad for p in layers[1].parameters())


@pytest.mark.parametrize("n", [2, 5])
def test_frozen_layers_must_leave_a_layer_to_train(tiny_base, n):
    with pytest.raises(ValueError, match=r"--frozen-layers must be between 0 and 1 for this encoder \(2 layers\)"):
        FrozenLayers(tiny_model(tiny_base).network, n, pad_id=0)


def test_an_encoder_without_a_layer_list_is_named():
    class Odd(torch.nn.Module):
        pass

    with pytest.raises(ValueError, match=r"cannot find the Transformer layers of Odd.*use --frozen-layers 0"):
        layer_list(Odd())


def test_negative_frozen_layers_is_refused():
    from finetune.arguments import TrainArguments

    with pytest.raises(ValueError, match=r"--frozen-layers must be 0 \(none\) or more"):
        TrainArguments(output="m", intent_data=["x.csv"], emotion_data="e", frozen_layers=-1)


def test_training_with_a_frozen_layer_changes_only_the_layers_above(tiny_base, tiny_data, tmp_path):
    from transformers import AutoModel

    from finetune.train import main

    before = AutoModel.from_pretrained(tiny_base).state_dict()
    out = tmp_path / "model"
    main(["--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"], "--base-model", tiny_base,
          "--output", str(out), "--max-steps", "12", "--min-task-examples", "32", "--batch-size", "8",
          "--frozen-layers", "1", "--export-onnx", "false", "--no-upset-head"])
    model = HelplineModel.from_pretrained(str(out))
    after = model.network.encoder.state_dict()
    frozen = [k for k in before if k.startswith(("embeddings.", "encoder.layer.0."))]
    trained = [k for k in before if k.startswith("encoder.layer.1.") and k.endswith("weight")]
    assert frozen and trained
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in trained)
    assert model.metadata["training"]["arguments"]["frozen_layers"] == 1
    assert model.predict("where is my order").intent in {"order_status", "refund", "greeting", "cancel"}
