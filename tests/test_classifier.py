import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot import HelplineModel, Prediction
from bot.model.format import ONNX_FILE, read_metadata
from tests.conftest import ROOT, TINY_INTENTS

TEXTS = [text for texts in TINY_INTENTS.values() for text in texts] + ["what is the weather on mars"]


@pytest.fixture(scope="module")
def onnx(tiny_model_dir):
    return HelplineModel.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def torch_classifier(tiny_model_dir):
    return HelplineModel.from_pretrained(tiny_model_dir, backend="torch")


def test_training_exports_an_int8_graph_and_records_it(tiny_model_dir):
    assert (Path(tiny_model_dir) / ONNX_FILE).is_file()
    assert read_metadata(Path(tiny_model_dir))["onnx"]["file"] == ONNX_FILE


def test_auto_backend_prefers_onnx_and_agrees_with_torch(onnx, torch_classifier):
    assert onnx.backend == "onnx" and torch_classifier.backend == "torch"
    assert onnx.intent_labels == torch_classifier.intent_labels and onnx.version == torch_classifier.version
    i_onnx, e_onnx = onnx.probabilities(TEXTS)
    i_torch, e_torch = torch_classifier.probabilities(TEXTS)
    assert np.abs(i_onnx - i_torch).max() < 0.05   # int8 weights: close, not identical
    assert np.abs(e_onnx - e_torch).max() < 0.05
    assert (i_onnx.argmax(1) == i_torch.argmax(1)).all()  # the same intent (the tiny model is confident)


def test_onnx_tokenizer_matches_the_transformers_tokenizer(onnx, tiny_model_dir):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(tiny_model_dir)
    text = "Where's my ORDER #A-1234?? it's late " + "very " * 100
    ours = onnx.runtime.tokenizer.encode(text).ids
    assert ours == reference(text, truncation=True, max_length=onnx.metadata["max_length"])["input_ids"]


def test_predict_takes_one_text_or_a_list(onnx):
    one = onnx.predict("where is my order")
    assert isinstance(one, Prediction)
    many = onnx.predict(["hello", "where is my order"])
    assert [p.text for p in many] == ["hello", "where is my order"]
    # dynamic int8 quantizes activations per batch, so batch-mates move scores by ~1e-3, not more
    assert many[1].emotions == pytest.approx(one.emotions, abs=0.01)
    with pytest.raises(ValueError, match="text 1 is empty"):
        onnx.predict(["hi", "  "])


def test_batches_of_similar_token_counts_keep_the_input_order(onnx):
    # longest first, so sorting by token count must reorder them; 5 per batch forces several batches
    texts = sorted(TEXTS, key=len, reverse=True)
    intent, emotion = onnx.probabilities(texts, batch_size=5)
    assert intent.shape == (len(texts), len(onnx.intent_labels))
    alone = [onnx.probabilities([text]) for text in texts]
    for i in (0, len(texts) // 2, len(texts) - 1):  # each row is its own text's, not a batch-mate's
        # dynamic int8 quantizes activations per batch, so a row moves a little with its batch-mates (~0.01)
        assert intent[i] == pytest.approx(alone[i][0][0], abs=0.02)
        assert emotion[i] == pytest.approx(alone[i][1][0], abs=0.02)
        others = [j for j in range(len(texts)) if abs(alone[j][0][0] - alone[i][0][0]).max() > 0.1]
        assert all(abs(intent[i] - alone[j][0][0]).max() > 0.05 for j in others)  # not another text's row
    # the tokenizer leaves padding to `run`, which pads each batch only to its own longest message
    assert onnx.runtime.tokenizer.padding is None
    short, long = onnx.runtime.encode([texts[-1], texts[0]])
    assert onnx.runtime.run([short])[0] == pytest.approx(onnx.runtime.run([short, long])[0][:1], abs=0.01)


def test_missing_or_damaged_graph_is_a_clear_error(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="backend must be one of"):
        HelplineModel.from_pretrained(tiny_model_dir, backend="tensorrt")
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "m"))
    (copy / ONNX_FILE).write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="cannot be loaded.*finetune export"):
        HelplineModel.from_pretrained(copy)
    (copy / ONNX_FILE).unlink()
    with pytest.raises(ValueError, match="has no model.int8.onnx"):
        HelplineModel.from_pretrained(copy, backend="onnx")
    assert HelplineModel.from_pretrained(copy).backend == "torch"   # auto falls back to the torch weights


@pytest.mark.parametrize("scheme, calibrate", [("dynamic", False), ("dynamic", True), ("blockwise", False)])
def test_export_command_writes_the_graph(tiny_model_dir, tiny_data, tmp_path, scheme, calibrate, torch_classifier):
    copy = Path(shutil.copytree(tiny_model_dir, tmp_path / "m", ignore=shutil.ignore_patterns(ONNX_FILE)))
    extra = ["--calibration-data", tiny_data["intents"], tiny_data["emotions"]] if calibrate else []
    result = subprocess.run([sys.executable, "-m", "finetune", "export", "--model", str(copy), "--quantization",
                             scheme] + extra, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    exported = HelplineModel.from_pretrained(copy)
    assert exported.backend == "onnx" and scheme in exported.metadata["onnx"]["quantization"]
    assert ("SmoothQuant" in exported.metadata["onnx"]["quantization"]) == calibrate
    # dynamic int8 fuses each attention block into one (quantized) node, smoothed or not
    assert ("fused attention" in exported.metadata["onnx"]["quantization"]) == (scheme == "dynamic")
    assert np.abs(exported.probabilities(TEXTS)[0] - torch_classifier.probabilities(TEXTS)[0]).max() < 0.05
    assert np.abs(exported.probabilities(TEXTS)[1] - torch_classifier.probabilities(TEXTS)[1]).max() < 0.05


def test_attention_fusion_keeps_the_smoothed_float_graph_exact(tiny_model_dir, tmp_path):
    """The fused graph puts SmoothQuant's Muls back around each Attention node: before quantization it must
    compute what the smoothed torch network computes (a Mul left out or on the wrong layer would not)."""
    import onnx
    import onnxruntime as ort
    import torch

    from bot import HelplineModel
    from finetune.export import _fused
    from finetune.smoothing import smoothed

    model = HelplineModel.from_pretrained(tiny_model_dir, backend="torch")
    inputs = model.tokenize(TEXTS)
    with torch.no_grad():
        model.network.encoder.encoder.layer[1].attention.output.dense.weight[:, 5] *= 30  # an outlier channel
        network = smoothed(model.network, [inputs])
        network.encoder.set_attn_implementation("eager")
        expected = network(**inputs)
    fused = _fused(network, True, model.tokenize(["where is my order", "hi"]), tmp_path / "model.fp32.onnx")
    assert fused is not None
    ops = [node.op_type for node in onnx.load(str(fused)).graph.node]
    assert ops.count("Attention") == 2 and ops.count("Mul") >= 4
    got = ort.InferenceSession(str(fused), providers=["CPUExecutionProvider"]).run(
        None, {"input_ids": inputs["input_ids"].numpy(), "attention_mask": inputs["attention_mask"].numpy()})
    np.testing.assert_allclose(got[0], torch.softmax(expected[0], -1).numpy(), atol=1e-4)
    np.testing.assert_allclose(got[1], torch.sigmoid(expected[1]).numpy(), atol=1e-4)


def test_onnx_serving_does_not_import_torch(tiny_model_dir):
    code = (f"import sys; from bot import HelplineModel; c = HelplineModel.from_pretrained({tiny_model_dir!r}); "
            "c.predict('hi'); print(c.backend, 'torch' in sys.modules, 'transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.split() == ["onnx", "False", "False"], result.stderr


def test_smoothing_moves_activation_ranges_into_weights_without_changing_outputs(tiny_model_dir):
    import torch

    from bot import HelplineModel
    from finetune.smoothing import SmoothedLinear, smoothed

    model = HelplineModel.from_pretrained(tiny_model_dir, backend="torch")
    inputs = model.tokenize(TEXTS)
    with torch.no_grad():
        model.network.encoder.encoder.layer[0].output.dense.weight[:, 3] *= 30  # an outlier channel downstream
        before = model.network(**inputs)
        network = smoothed(model.network, [inputs])
        after = network(**inputs)
    layer = network.encoder.encoder.layer[0]
    assert isinstance(layer.attention.self.query, SmoothedLinear) and isinstance(layer.output.dense, SmoothedLinear)
    assert not isinstance(model.network.encoder.encoder.layer[0].output.dense, SmoothedLinear)  # original untouched
    for b, a in zip(before, after):
        assert torch.allclose(a, b, atol=1e-4)
    # the same inverse scale for query, key and value: they read one input
    assert torch.equal(layer.attention.self.query.inverse_scale, layer.attention.self.value.inverse_scale)


def test_a_base_model_without_bert_layout_trains_and_exports_unsmoothed(tiny_data, tmp_path):
    """SmoothQuant knows BERT's module names only; another architecture (here a tiny DistilBERT, random
    weights) must still train, export an int8 graph without it and serve from that graph."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    from bot import HelplineModel
    from bot.model.base_models import bundled_minilm_path
    from finetune.smoothing import smoothed
    from finetune.train import main

    torch.manual_seed(0)
    base = tmp_path / "tiny-distilbert"
    tokenizer = AutoTokenizer.from_pretrained(bundled_minilm_path())
    tokenizer.model_input_names = ["input_ids", "attention_mask"]  # as DistilBERT's own tokenizer: no segments
    DistilBertModel(DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                     max_position_embeddings=128)).save_pretrained(base)
    tokenizer.save_pretrained(base)
    out = tmp_path / "model"
    main(["--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"], "--base-model", str(base),
          "--output", str(out), "--max-steps", "5", "--min-task-examples", "32", "--batch-size", "8",
          "--no-upset-head"])
    onnx, torch_classifier = HelplineModel.from_pretrained(out), HelplineModel.from_pretrained(out, backend="torch")
    assert onnx.backend == "onnx"
    description = onnx.metadata["onnx"]["quantization"]
    assert "SmoothQuant" not in description  # (ONNX Runtime's optimizer fuses DistilBERT's attention too)
    assert np.abs(onnx.probabilities(TEXTS)[0] - torch_classifier.probabilities(TEXTS)[0]).max() < 0.05
    with pytest.raises(ValueError, match="SmoothQuant needs a BERT-style encoder.*DistilBertModel"):
        smoothed(HelplineModel.from_pretrained(out, backend="torch").network, [])


def test_the_serving_classifier_does_not_spin_and_predicts_the_same(tiny_model_dir, onnx):
    from bot.serving.settings import Settings

    served = Settings(onnx_threads=2).load_classifier(tiny_model_dir)
    options = served.runtime.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
    assert [p.intent for p in served.predict(TEXTS)] == [p.intent for p in onnx.predict(TEXTS)]


def test_one_model_class_whatever_runs_the_encoder(onnx, torch_classifier, tmp_path):
    assert type(onnx) is type(torch_classifier) is HelplineModel
    assert onnx.runtime.name == "onnx" and torch_classifier.runtime.name == "torch"
    # what needs the torch weights says how to get them, on the ONNX runtime
    for needs_torch in (lambda: onnx.network, lambda: onnx.tokenize(["hi"]), lambda: onnx.save_pretrained(tmp_path)):
        with pytest.raises(ValueError, match="backend='torch'"):
            needs_torch()
    assert not any(tmp_path.iterdir())


def test_classifier_is_a_thin_alias_for_one_release(tiny_model_dir):
    from bot.model.classifier import Classifier

    old = Classifier.load(tiny_model_dir, backend="torch")
    assert isinstance(old, HelplineModel) and old.backend == "torch"
    new = HelplineModel.from_pretrained(tiny_model_dir, backend="torch")
    assert old.probabilities(TEXTS)[0] == pytest.approx(new.probabilities(TEXTS)[0])
    with pytest.raises(ValueError, match="backend must be one of"):
        Classifier.load(tiny_model_dir, backend="tensorrt")
