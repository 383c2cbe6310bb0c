"""Train / calibration / test splits for the accuracy benchmark, written to a temporary work directory.

Nothing here is copied into the project: the splits live in a temporary folder for one run.
"""
from __future__ import annotations

import csv
import json
import random
import shutil
from collections import defaultdict
from pathlib import Path

from bot.serving.settings import Settings
from finetune.arguments import TrainArguments
from finetune.data import load_emotion_data, load_intent_data, split_validation, validation_share

DATA = Path(Settings.from_env().data_dir)
DEFAULT_FRACTION = TrainArguments.__dataclass_fields__["validation_fraction"].default  # --validation-fraction


def _halves(pairs: list, key, seed: int) -> tuple[list, list]:
    """Split into two halves, stratified by ``key`` (so both halves hold every intent)."""
    groups = defaultdict(list)
    for item in pairs:
        groups[key(item)].append(item)
    rng = random.Random(seed)
    a, b = [], []
    for name in sorted(groups):
        items = groups[name][:]
        rng.shuffle(items)
        a += items[: len(items) // 2]
        b += items[len(items) // 2:]
    return a, b


def _write_csv(path: Path, pairs) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        writer.writerows(pairs)


def _pairs(ds) -> list[tuple[str, str]]:
    return list(zip(list(ds["text"]), list(ds["intent"])))


def prepare(work: Path, test_files: dict, seed: int) -> None:
    # Banking77: test = the held-back file, or 10% of train; the rest is split by `train` itself (same seed)
    full = load_intent_data(str(DATA / "banking77" / "train.csv")).train
    if test_files.get("banking77"):
        train, test = full, load_intent_data(test_files["banking77"]).train
    else:
        train, test = split_validation(full, 0.1, seed + 1)
    _write_csv(work / "banking77_train.csv", _pairs(train))
    _write_csv(work / "banking77_test.csv", _pairs(test))
    # the baselines fit on exactly what `train` trains on, and calibrate on what it holds out (nothing, by default:
    # Banking77 has no out-of-scope examples)
    share = validation_share(DEFAULT_FRACTION, list(train["intent"]))
    fit, calib = split_validation(train, share, seed) if share else (train, None)
    _save(work, "banking77", _pairs(fit), _pairs(calib) if calib is not None else [], _pairs(test))

    # CLINC150: train + oos_train for training; val calibrates (half of it, when val also supplies the test)
    raw = json.loads((DATA / "clinc150" / "train_val.json").read_text())
    train = [tuple(p) for p in raw["train"] + raw["oos_train"]]
    val = [tuple(p) for p in raw["val"] + raw["oos_val"]]
    if test_files.get("clinc150"):
        calib, test = val, _pairs(load_intent_data(test_files["clinc150"]).train)
        if test_files["clinc150"].endswith(".json"):  # the official file: test + oos_test
            official = json.loads(Path(test_files["clinc150"]).read_text())
            test = [tuple(p) for p in official.get("test", []) + official.get("oos_test", [])] or test
    else:
        calib, test = _halves(val, key=lambda p: p[1], seed=seed)
    (work / "clinc150.json").write_text(json.dumps({
        "train": [p for p in train if p[1] != "oos"], "oos_train": [p for p in train if p[1] == "oos"],
        "val": [p for p in calib if p[1] != "oos"], "oos_val": [p for p in calib if p[1] == "oos"]}))
    _write_csv(work / "clinc150_test.csv", test)
    _save(work, "clinc150", train, calib, test)

    # GoEmotions: train.tsv trains; dev calibrates (half of it, when dev also supplies the test)
    source = DATA / "goemotions" / "original"
    lines = (source / "dev.tsv").read_text(encoding="utf-8").splitlines()
    if test_files.get("goemotions"):
        calib_lines, test_lines = lines, Path(test_files["goemotions"]).read_text(encoding="utf-8").splitlines()
    else:
        calib_lines, test_lines = _halves(lines, key=lambda line: line.split("\t")[1], seed=seed)
    folder = work / "goemotions"
    folder.mkdir()
    for name in ("labels.txt", "train.tsv"):
        shutil.copy(source / name, folder / name)
    if (source.parent / "mappings.json").exists():
        shutil.copy(source.parent / "mappings.json", folder / "mappings.json")
    (folder / "dev.tsv").write_text("\n".join(calib_lines) + "\n", encoding="utf-8")
    (work / "goemotions_test.tsv").write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    data = load_emotion_data(str(folder))
    test = load_emotion_data(str(work / "goemotions_test.tsv")).validation
    (work / "goemotions.splits.json").write_text(json.dumps({
        "labels": data.labels, "train_x": list(data.train["text"]), "train_y": list(data.train["labels"]),
        "calib_x": list(data.validation["text"]), "calib_y": list(data.validation["labels"]),
        "test_x": list(test["text"]), "test_y": list(test["labels"])}))


def _save(work: Path, task: str, train, calib, test) -> None:
    record = {}
    for name, pairs in (("train", train), ("calib", calib), ("test", test)):
        record[f"{name}_x"] = [t for t, _ in pairs]
        record[f"{name}_y"] = [i for _, i in pairs]
    (work / f"{task}.splits.json").write_text(json.dumps(record))


def load(work: Path, task: str) -> dict:
    """The splits of one task; GoEmotions labels become 0/1 matrices."""
    data = json.loads((work / f"{task}.splits.json").read_text())
    if task == "goemotions":
        from finetune.metrics import multi_hot

        for name in ("train_y", "calib_y", "test_y"):
            data[name] = multi_hot(data[name], len(data["labels"]))
    return data


if __name__ == "__main__":
    # `python benchmarks/splits.py DIR`: the validation-mode splits, for training a model by hand on exactly
    # what accuracy.py trains on and checking it on what no training or calibration saw (latency.py's
    # agreement check: banking77_test.csv and goemotions_test.tsv)
    import argparse

    parser = argparse.ArgumentParser(description="Write the accuracy benchmark's validation-mode splits to DIR.")
    parser.add_argument("output", type=Path, help="an empty or new folder for the split files")
    parser.add_argument("--seed", type=int, default=42, help="split seed (accuracy.py uses 42; another seed "
                        "gives a fresh held-out 10%% for checking a choice made while looking at seed 42's)")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    prepare(args.output, {}, args.seed)
    print(f"wrote {', '.join(sorted(p.name for p in args.output.iterdir()))} to {args.output}")
