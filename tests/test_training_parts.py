"""Batching, calibration and the linear-probe start: the parts of training that decide speed and accuracy."""
import random

import numpy as np
import pytest

from finetune.batching import bucket_batches, epoch_sample, pad_batch
from finetune.calibrate import emotion_thresholds, oos_threshold


def test_bucket_batches_cover_every_index_once_with_similar_lengths():
    rng = random.Random(0)
    lengths = [rng.randint(3, 60) for _ in range(1000)]
    batches = bucket_batches(list(range(1000)), lengths, 16, rng, pool_batches=10)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(1000))
    spread = np.mean([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
    assert spread < 10  # random batches of 16 would spread ~50 tokens


def test_epoch_sample_uses_every_item_before_repeating():
    rng, cursor = random.Random(0), []
    first = epoch_sample(10, 6, rng, cursor)
    second = epoch_sample(10, 6, rng, cursor)
    assert len(set(first)) == 6 and set(range(10)) <= set(first + second)


def test_pad_batch_masks_padding():
    batch = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_oos_threshold_with_oos_rows_separates_them():
    labels = ["a", "b"]
    # in-scope rows are confident, oos rows are not
    probs = np.asarray([[0.9, 0.1]] * 20 + [[0.55, 0.45]] * 10)
    y = ["a"] * 20 + ["oos"] * 10
    t = oos_threshold(probs, y, labels)
    assert 0.55 < t <= 0.9


def test_oos_threshold_takes_the_lowest_cut_that_reaches_the_target_recall():
    labels = ["a", "b"]
    # oos rows at 0.5 and 0.7; in-scope rows at 0.6 (half right) and 0.95
    probs = np.asarray([[0.5, 0.5]] * 5 + [[0.7, 0.3]] * 5 + [[0.6, 0.4]] * 10 + [[0.95, 0.05]] * 80)
    y = ["oos"] * 10 + ["a", "b"] * 5 + ["a"] * 80
    assert 0.5 < oos_threshold(probs, y, labels, target_recall=0.5) <= 0.6   # keeps the 0.6 rows in scope
    assert 0.7 < oos_threshold(probs, y, labels, target_recall=0.9) <= 0.95


def test_oos_threshold_without_oos_rows_is_left_to_the_pseudo_out_of_scope_guard():
    probs = np.asarray([[0.95, 0.05]] * 90 + [[0.52, 0.48]] * 10)
    assert oos_threshold(probs, ["a"] * 100, ["a", "b"]) == 0.0   # finetune/pseudo_oos.py sets that guard


def test_emotion_thresholds_pick_the_f1_best_cut():
    probs = np.asarray([[0.3], [0.35], [0.1], [0.05]])
    targets = np.asarray([[1], [1], [0], [0]], dtype=np.float32)
    t = emotion_thresholds(probs, targets, ["joy"])["joy"]
    assert 0.1 < t <= 0.3
    assert emotion_thresholds(probs, np.zeros_like(targets), ["joy"])["joy"] == 0.5


def test_linear_probe_fits_the_intent_head(tiny_base, tiny_data):
    from bot import HelplineModel
    from finetune.arguments import TrainArguments
    from finetune.data import load_intent_data
    from finetune.device import TrainingDevice
    from finetune.probe import embed_all, linear_probe

    train = load_intent_data(tiny_data["intents"]).train
    labels = sorted(set(train["intent"]))
    model = HelplineModel.from_base(tiny_base, labels)
    ids = model.tokenizer(list(train["text"]))["input_ids"]
    y = [labels.index(i) for i in train["intent"]]
    args = TrainArguments(output="unused", intent_data=["unused"], emotion_data="unused", bf16="no")
    features = embed_all(model, ids, 0, TrainingDevice("cpu", False))
    before = (model.network.intent_head(features).argmax(1).numpy() == np.asarray(y)).mean()
    linear_probe(model, ids, y, args, TrainingDevice("cpu", False))
    after = (model.network.intent_head(features).argmax(1).numpy() == np.asarray(y)).mean()
    assert after >= 0.9 and after > before


@pytest.mark.parametrize("bad, message", [
    ({"epochs": 0}, r"--epochs must be at least 1"),
    ({"batch_size": 0}, r"--batch-size must be at least 1"),
    ({"validation_fraction": 0.7}, r"--validation-fraction must be at least 0 .* and below 0.5"),
    ({"validation_fraction": -0.1}, r"--validation-fraction must be at least 0"),
    ({"emotion_positive_weight": -1}, r"--emotion-positive-weight must be 0 \(plain BCE\) or more"),
    ({"lexical_weight": 1.5}, r"--lexical-weight must be between 0 \(encoder alone\) and 1"),
])
def test_train_arguments_are_checked(bad, message):
    from finetune.arguments import TrainArguments

    with pytest.raises(ValueError, match=message):
        TrainArguments(output="m", intent_data=["x.csv"], emotion_data="e", **bad)


def test_lexical_head_fits_saves_loads_and_blends(tmp_path):
    import numpy as np

    from bot.model.lexical import LexicalHead, blend
    from finetune.lexical_fit import choose_weight, fit_lexical
    from tests.conftest import TINY_INTENTS

    texts = [t for texts in TINY_INTENTS.values() for t in texts]
    intents = [i for i, texts in TINY_INTENTS.items() for _ in texts]
    labels = sorted(TINY_INTENTS)
    assert fit_lexical(texts, intents, labels + ["unseen"]) is None      # must cover every model label
    head = fit_lexical(texts, intents, labels)
    probs = head.probabilities(["where is my order", "refund please"])
    assert [labels[i] for i in probs.argmax(1)] == ["order_status", "refund"]
    head.save(tmp_path)
    again = LexicalHead.load(tmp_path)
    assert np.allclose(again.probabilities(["track my package"]), head.probabilities(["track my package"]))
    uniform = np.full((2, 4), 0.25, dtype=np.float32)
    assert np.allclose(blend(uniform, probs, 0.0), uniform)
    assert blend(uniform, probs, 0.5).argmax(1).tolist() == probs.argmax(1).tolist()
    wrong = np.eye(4, dtype=np.float32)[[0, 0]] * 0.6 + 0.1                 # an encoder that is wrong on both
    assert choose_weight(wrong, probs, ["order_status", "refund"], labels) > 0


def test_serving_features_equal_scikit_learns(tmp_path):
    import numpy as np
    from scipy.sparse import hstack

    from bot.model.lexical import ANALYZERS
    from finetune.lexical_fit import fit_lexical, vectorizers
    from tests.conftest import TINY_INTENTS

    texts = [t for texts in TINY_INTENTS.values() for t in texts]
    intents = [i for i, texts in TINY_INTENTS.items() for _ in texts]
    head = fit_lexical(texts, intents, sorted(TINY_INTENTS))
    vecs = vectorizers()
    for name, vec in vecs.items():
        vec.fit(texts)
    for text in ["Where's my ORDER??  it's  late", "a", "refund   refund refund please!", "", "ünïcode café order"]:
        reference = hstack([vecs[name].transform([text]) for name in ANALYZERS]).toarray()[0]
        idx, vals = head.features(text)
        ours = np.zeros_like(reference)
        ours[idx] = vals
        assert np.allclose(ours, reference, atol=1e-6), text


def test_rdrop_adds_the_disagreement_between_two_dropout_passes():
    import torch
    import torch.nn.functional as F

    from finetune.losses import intent_loss

    torch.manual_seed(0)
    logits, target = torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    plain = F.cross_entropy(logits, target, label_smoothing=0.1)
    assert torch.allclose(intent_loss(logits, target, 0.1, 0.0), plain)
    same = intent_loss(torch.cat([logits, logits]), target, 0.1, 1.0)   # identical passes: no divergence
    assert torch.allclose(same, plain, atol=1e-6)
    other = torch.randn(4, 5)
    both = intent_loss(torch.cat([logits, other]), target, 0.1, 1.0)
    mean_ce = (plain + F.cross_entropy(other, target, label_smoothing=0.1)) / 2
    assert both > mean_ce + 1e-3


def test_training_holds_out_validation_only_when_asked_or_for_oos_examples(tiny_base, tiny_data, tmp_path, capsys):
    import json

    from finetune.train import main

    common = ["--emotion-data", tiny_data["emotions"], "--base-model", tiny_base, "--max-steps", "4",
              "--min-task-examples", "32", "--batch-size", "8", "--export-onnx", "false",
              "--counterfactual-share", "0", "--slip-share", "0"]   # the counts below are the data's own rows
    # the default, without out-of-scope examples: all 32 reach training, nothing is held out to score intents on
    model = main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "all")])
    meta = json.loads((tmp_path / "all" / "helpline.json").read_text())
    assert "32 intent examples" in capsys.readouterr().err
    validation = meta["metrics"]["validation"]
    assert "intent_accuracy" not in validation and "emotion_macro_f1" in validation
    assert meta["oos_selection"]["pseudo_out_of_scope"] and model.lexical is None and meta["lexical"] is None
    assert "trained on every example" in (tmp_path / "all" / "README.md").read_text()  # the card says why
    # a given blend weight is used without validation data
    fixed = main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "w"),
                  "--lexical-weight", "0.2"])
    assert fixed.lexical is not None and fixed.metadata["lexical"]["weight"] == 0.2
    # asked for, 10% is held out and scored
    held = main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "v"),
                 "--validation-fraction", "0.1"])
    assert "28 intent examples" in capsys.readouterr().err
    assert "intent_accuracy" in held.metadata["metrics"]["validation"]
    # out-of-scope examples in the data: held out by default, for the threshold (one of each of the 5 intents)
    with_oos = tmp_path / "oos.csv"
    with_oos.write_text(open(tiny_data["intents"]).read() + "".join(f"weather on mars {i},oos\n" for i in range(8)))
    auto = main(["--intent-data", str(with_oos), *common, "--output", str(tmp_path / "o")])
    assert "35 intent examples" in capsys.readouterr().err and "oos_recall" in auto.metadata["metrics"]["validation"]
    # none, and no validation split: the guard is set on a fifth of the training messages
    guarded = main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "x"),
                    "--oos-max-accuracy-drop", "0.01"])
    assert guarded.metadata["oos_selection"]["reference"] == "training messages, out of fold"


def test_emotion_positive_weights_lift_rare_labels():
    import torch

    from finetune.losses import emotion_loss, emotion_positive_weights

    targets = np.zeros((100, 3), dtype=np.float32)
    targets[:50, 0] = 1    # common: 50 positives, 50 negatives
    targets[:4, 1] = 1     # rare: 4 positives, 96 negatives (label 2 has none: counted as 1, no division by 0)
    assert emotion_positive_weights(targets, 0) is None
    weights = emotion_positive_weights(targets, 0.5)
    assert weights.tolist() == pytest.approx([1.0, (96 / 4) ** 0.5, 99 ** 0.5])
    logits, target = torch.zeros(1, 3), torch.tensor([[0.0, 1.0, 0.0]])
    plain, weighted = emotion_loss(logits, target, 1.0), emotion_loss(logits, target, 1.0, weights)
    # a missed rare positive now costs what its rarity says; the negatives' terms are unchanged
    assert weighted.item() == pytest.approx(plain.item() / 3 * (2 + 24 ** 0.5))


def test_training_never_imports_serving_code():
    """Dependencies point one way: finetune/ writes model directories and may use bot's model format, store and
    registry and transcript format, never its serving code (API, workers, settings)."""
    import subprocess
    import sys

    code = ("import sys, finetune.__main__, finetune.train, finetune.retrain, finetune.discover, finetune.export, "
            "finetune.evaluate, finetune.registry_cli; "
            "print(sorted(m for m in sys.modules if m.startswith(('bot.serving', 'ui', 'app', 'gradio'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_metrics_go_through_evaluate_offline_and_score_by_hand(monkeypatch):
    # HF_HUB_OFFLINE makes any attempt to fetch a metric script from the Hub fail
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import numpy as np

    from finetune.metrics import emotion_metrics, intent_metrics

    scores = intent_metrics(["a", "a", "b", "oos"], ["a", "b", "b", "a"])
    assert scores["intent_accuracy"] == 0.5
    # F1 of a = 2*(1/2*1/2)/(1) = 0.5, of b = 2/3, of oos = 0
    assert abs(scores["intent_macro_f1"] - (0.5 + 2 / 3 + 0) / 3) < 1e-9
    assert scores["in_scope_accuracy"] == 2 / 3 and scores["oos_recall"] == 0.0
    targets = np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32)
    predicted = np.array([[1, 0], [0, 1], [0, 0]], dtype=np.float32)
    emotions = emotion_metrics(targets, predicted, ["joy", "anger"])
    # joy: P=1, R=1/2 -> 2/3; anger: P=1, R=1/2 -> 2/3; micro: tp=2, fp=0, fn=2 -> 2/3
    assert abs(emotions["emotion_macro_f1"] - 2 / 3) < 1e-9
    assert abs(emotions["emotion_micro_f1"] - 2 / 3) < 1e-9


def test_training_runs_on_a_gpu_when_torch_sees_one_and_on_the_cpu_otherwise(monkeypatch, tiny_base, tiny_data,
                                                                              tmp_path, capsys):
    import torch

    from finetune.__main__ import main as finetune
    from finetune.device import TrainingDevice, training_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert training_device("auto", "auto") == TrainingDevice("cuda", True)   # bf16 autocast where the GPU has it
    assert training_device("auto", "no") == TrainingDevice("cuda", False)
    assert training_device("cpu", "yes") == TrainingDevice("cpu", True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_device("auto", "no") == TrainingDevice("cpu", False)
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        training_device("cuda")
    assert TrainingDevice("cpu", False).put({"x": torch.ones(2)})["x"].device.type == "cpu"
    with TrainingDevice("cpu", True).autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16 and torch.is_autocast_cpu_enabled()
    code = finetune(["train", "--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"],
                     "--base-model", tiny_base, "--output", str(tmp_path / "m"), "--max-steps", "2",
                     "--device", "cuda"])
    assert code == 2 and "torch sees no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_the_upset_task_teaches_the_encoder_with_a_head_that_is_not_kept(tiny_base, tiny_data, tmp_path):
    import torch

    from bot import HelplineModel
    from finetune.arguments import TrainArguments
    from finetune.data import load_intent_data
    from finetune.loop import Step, encode_tasks

    train = load_intent_data(tiny_data["intents"]).train
    model = HelplineModel.from_base(tiny_base, sorted(set(train["intent"])))
    args = TrainArguments(output=str(tmp_path / "m"), intent_data=["unused"], emotion_data="unused", bf16="no",
                          upset_examples_per_epoch=4)
    upset = (["WHERE IS MY REFUND!!! third time", "thanks, all sorted", "useless, cancel my account", "ok"],
             [1, 0, 1, 0])
    tasks = encode_tasks(model, train, None, args, upset)
    assert tasks["upset"].per_epoch == 4 and list(tasks["upset"].targets) == [1, 0, 1, 0]
    assert "upset" not in encode_tasks(model, train, None, TrainArguments(
        output="m", intent_data=["unused"], emotion_data="unused", upset_examples_per_epoch=0), upset)
    step = Step(model, tasks, args, total=2)
    layer = next(p for n, p in model.network.encoder.named_parameters() if "layer.0" in n and "weight" in n)
    before = layer.detach().clone()
    loss = step("upset", [0, 1, 2, 3])
    assert np.isfinite(loss) and not torch.equal(before, layer.detach())       # the encoder learnt from it
    model.save_pretrained(tmp_path / "m")
    assert set(HelplineModel.from_pretrained(tmp_path / "m", backend="torch").network.head_state_dict()) == \
        set(model.network.head_state_dict())                                   # no upset weights in the format


def test_a_quick_run_leaves_out_the_slow_upset_head_and_says_how_to_add_it(tiny_base, tiny_data, tmp_path,
                                                                           monkeypatch, capsys):
    import finetune.upset_fit
    from finetune.train import QUICK_STEPS, main

    fitted = []
    monkeypatch.setattr(finetune.upset_fit, "fit_upset_head", lambda path, *a, **k: fitted.append(path) or "fit")
    common = ["--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"], "--base-model",
              tiny_base, "--min-task-examples", "32", "--batch-size", "8", "--no-export-onnx",
              "--upset-examples-per-epoch", "0"]
    main([*common, "--output", str(tmp_path / "quick"), "--max-steps", "3"])
    assert fitted == [] and f"upset --model {tmp_path / 'quick'}" in capsys.readouterr().err
    main([*common, "--output", str(tmp_path / "full"), "--max-steps", str(QUICK_STEPS)])
    assert fitted == [str(tmp_path / "full")]


def test_training_uses_the_cores_this_process_may_run_on(tiny_base, tiny_data, tmp_path, monkeypatch):
    """Under taskset or a container's cpuset, threads for cores the process may not use only queue up."""
    import torch

    from finetune import train

    before = torch.get_num_threads()
    monkeypatch.setattr(train, "usable_cores", lambda: 1)
    try:
        train.main(["--intent-data", tiny_data["intents"], "--base-model", tiny_base, "--max-steps", "1",
                    "--min-task-examples", "8", "--batch-size", "8", "--export-onnx", "false",
                    "--no-upset-head", "--output", str(tmp_path / "m")])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
