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


def test_oos_threshold_without_oos_rows_respects_the_accuracy_budget():
    labels = ["a", "b"]
    probs = np.asarray([[0.95, 0.05]] * 90 + [[0.52, 0.48]] * 10)
    y = ["a"] * 90 + ["b"] * 5 + ["a"] * 5   # the unsure rows are half right
    t = oos_threshold(probs, y, labels, max_accuracy_drop=0.05)
    assert t > 0.52  # rejecting the unsure rows costs 5 points: allowed
    assert oos_threshold(probs, y, labels, max_accuracy_drop=0.01) <= 0.52
    assert oos_threshold(probs, y, labels) == 0.0  # the default: no OOS data, no threshold


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
    from finetune.probe import embed_all, linear_probe

    train = load_intent_data(tiny_data["intents"]).train
    labels = sorted(set(train["intent"]))
    model = HelplineModel.from_base(tiny_base, labels)
    ids = model.tokenizer(list(train["text"]))["input_ids"]
    y = [labels.index(i) for i in train["intent"]]
    args = TrainArguments(output="unused", intent_data=["unused"], emotion_data="unused", bf16="no")
    features = embed_all(model, ids, 0, bf16=False)
    before = (model.network.intent_head(features).argmax(1).numpy() == np.asarray(y)).mean()
    linear_probe(model, ids, y, args)
    after = (model.network.intent_head(features).argmax(1).numpy() == np.asarray(y)).mean()
    assert after >= 0.9 and after > before


@pytest.mark.parametrize("bad, message", [
    ({"epochs": 0}, r"--epochs must be at least 1"),
    ({"batch_size": 0}, r"--batch-size must be at least 1"),
    ({"validation_fraction": 0.7}, r"--validation-fraction must be at least 0 .* and below 0.5"),
    ({"validation_fraction": -0.1}, r"--validation-fraction must be at least 0"),
    ({"emotion_positive_weight": -1}, r"--emotion-positive-weight must be 0 \(plain BCE\) or more"),
    ({"lexical_weight": 1.5}, r"--lexical-weight must be between 0 \(encoder alone\) and 1"),
    ({"contrastive_temperature": 0}, r"--contrastive-temperature above 0"),
    ({"layer_lr_decay": 1.5}, r"--layer-lr-decay must be above 0 and at most 1"),
])
def test_train_arguments_are_checked(bad, message):
    from finetune.arguments import TrainArguments

    with pytest.raises(ValueError, match=message):
        TrainArguments(output="m", intent_data=["x.csv"], emotion_data="e", **bad)


def test_lexical_head_fits_saves_loads_and_blends(tmp_path):
    import numpy as np

    from bot.lexical import LexicalHead, blend
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

    from bot.lexical import ANALYZERS
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


def test_weight_average_follows_the_weights_and_skips_frozen_ones():
    import torch

    from finetune.averaging import WeightAverage

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    net[0].weight.requires_grad_(False)
    frozen = net[0].weight.clone()
    with torch.no_grad():
        net[1].weight.fill_(0.0)
    average = WeightAverage(net, decay=0.5, every=2)
    with torch.no_grad():
        net[1].weight.fill_(1.0)
    average.update()                    # step 1: not an update step
    average.update()                    # step 2: average moves 1 - 0.5**2 = 0.75 of the way
    with torch.no_grad():
        net[1].weight.fill_(5.0)
    average.copy_to_model()
    assert torch.allclose(net[1].weight, torch.full_like(net[1].weight, 0.75))
    assert torch.equal(net[0].weight, frozen)
    with pytest.raises(ValueError, match="decay must be between 0 and 1"):
        WeightAverage(net, decay=1.0)


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


def test_contrastive_loss_rewards_same_intent_vectors_being_close():
    import torch

    from finetune.losses import contrastive_loss

    torch.manual_seed(0)
    target = torch.tensor([0, 1, 2, 3]).repeat(2)         # R-Drop's doubled batch: each message twice
    centres = torch.randn(4, 8)
    together = centres[target] + 0.01 * torch.randn(8, 8)   # both views of a message near its intent's centre
    scattered = torch.randn(8, 8)
    assert contrastive_loss(together, target, 0.05) < 0.01
    assert contrastive_loss(scattered, target, 0.05) > 1.0
    # a batch in which no message has a partner of its intent has nothing to pull together
    assert contrastive_loss(scattered, torch.arange(8), 0.05).item() == 0.0


def test_layer_lr_decay_gives_lower_layers_smaller_steps(tiny_base):
    from bot import HelplineModel
    from finetune.arguments import TrainArguments
    from finetune.train import make_optimizer

    model = HelplineModel.from_base(tiny_base, ["a", "b"])
    args = TrainArguments(output="unused", intent_data=["unused"], emotion_data="unused", layer_lr_decay=0.5)
    optimizer, _ = make_optimizer(model, args, total_steps=10)
    rate = {id(p): group["initial_lr"] for group in optimizer.param_groups for p in group["params"]}
    params = dict(model.network.named_parameters())
    n = model.network.encoder.config.num_hidden_layers
    top = next(p for name, p in params.items() if f"layer.{n - 1}." in name)
    bottom = next(p for name, p in params.items() if "layer.0." in name)
    embedding = next(p for name, p in params.items() if "position_embeddings" in name)
    assert rate[id(top)] == args.learning_rate
    assert rate[id(bottom)] == args.learning_rate * 0.5 ** (n - 1)
    assert rate[id(embedding)] == args.learning_rate * 0.5 ** n
    assert rate[id(params["intent_head.weight"])] == args.head_learning_rate


def test_contrastive_weight_reaches_the_encoder_in_training(tiny_base, tiny_data, tmp_path):
    import torch

    from finetune.train import main

    def encoder_after(*extra):
        model = main(["--intent-data", tiny_data["intents"], "--emotion-data", tiny_data["emotions"], "--base-model",
                      tiny_base, "--output", str(tmp_path / f"m{len(extra)}"), "--max-steps", "6",
                      "--min-task-examples", "32", "--emotion-examples-per-epoch", "0", "--batch-size", "8",
                      "--export-onnx", "false", *extra])
        return model.network.encoder.state_dict()

    plain, contrastive = encoder_after(), encoder_after("--contrastive-weight", "1.0")
    changed = [k for k in plain if not torch.equal(plain[k], contrastive[k])]   # same seed: only the loss differs
    assert any(".layer." in k for k in changed)


def test_layer_lr_decay_names_an_encoder_whose_layers_it_cannot_find():
    import torch

    from finetune.train import layer_depths

    class Odd(torch.nn.Module):
        pass

    with pytest.raises(ValueError, match=r"--layer-lr-decay: cannot find the Transformer layers of Odd.*"
                                         r"use --layer-lr-decay 1 for this base model"):
        layer_depths(Odd())


def test_training_holds_out_validation_only_when_asked_or_for_oos_examples(tiny_base, tiny_data, tmp_path, capsys):
    import json

    from finetune.train import main

    common = ["--emotion-data", tiny_data["emotions"], "--base-model", tiny_base, "--max-steps", "4",
              "--min-task-examples", "32", "--batch-size", "8", "--export-onnx", "false"]
    # the default, without out-of-scope examples: all 32 reach training, nothing is held out to score intents on
    model = main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "all")])
    meta = json.loads((tmp_path / "all" / "helpline.json").read_text())
    assert "32 intent examples" in capsys.readouterr().err
    assert "intent_accuracy" not in meta["metrics"]["validation"] and "emotion_macro_f1" in meta["metrics"]["validation"]
    assert meta["oos_threshold"] == 0.0 and model.lexical is None and meta["lexical"] is None
    assert "trained on every example" in (tmp_path / "all" / "README.md").read_text()  # the card says why
    # a given blend weight is used without validation data
    fixed = main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "w"), "--lexical-weight", "0.2"])
    assert fixed.lexical is not None and fixed.metadata["lexical"]["weight"] == 0.2
    # asked for, 10% is held out and scored
    held = main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "v"),
                 "--validation-fraction", "0.1"])
    assert "28 intent examples" in capsys.readouterr().err and "intent_accuracy" in held.metadata["metrics"]["validation"]
    # out-of-scope examples in the data: held out by default, for the threshold (one of each of the 5 intents)
    with_oos = tmp_path / "oos.csv"
    with_oos.write_text(open(tiny_data["intents"]).read() + "".join(f"weather on mars {i},oos\n" for i in range(8)))
    auto = main(["--intent-data", str(with_oos), *common, "--output", str(tmp_path / "o")])
    assert "35 intent examples" in capsys.readouterr().err and "oos_recall" in auto.metadata["metrics"]["validation"]
    with pytest.raises(ValueError, match="--oos-max-accuracy-drop needs validation data"):
        main(["--intent-data", tiny_data["intents"], *common, "--output", str(tmp_path / "x"),
              "--oos-max-accuracy-drop", "0.01"])


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
