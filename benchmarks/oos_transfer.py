"""Does a model's out-of-scope operating point transfer to messages its threshold was not set on?

    python benchmarks/splits.py /tmp/acc42             # CLINC150 val cut into two halves (seed 42)
    python benchmarks/oos_transfer.py --work /tmp/acc42 --model models/clinc_a models/clinc_b

CLINC150's held-back test has ten times more out-of-scope queries than val, and a threshold set on val's has
caught fewer of them there than on val. This reads each model as it is served (int8 ONNX where exported) on
both halves of CLINC150 val that `splits.py` writes (the calibration half in clinc150.json, the other in
clinc150_test.csv), fits every candidate score (finetune/oos_fit.py) on one half, sets its threshold there for
each target recall, and scores the other half; then the other way round. Each row is the mean of the two
directions, so every out-of-scope message of val is scored once by a threshold that never saw it. Max-softmax
is the baseline every other score is compared with. Writes benchmarks/results/oos_transfer.json.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from benchmarks.report import machine
from bot.model.prediction import OOS

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (0.88, 0.90, 0.92)


def halves(work: Path) -> tuple[tuple[list, list], tuple[list, np.ndarray], tuple[list, np.ndarray]]:
    """(train texts, intents), and the two halves of val as (texts, intents)."""
    data = json.loads((work / "clinc150.json").read_text())
    train = data["train"] + data["oos_train"]
    calibration = data["val"] + data["oos_val"]
    with (work / "clinc150_test.csv").open(encoding="utf-8") as handle:
        other = [(row["text"], row["intent"]) for row in csv.DictReader(handle)]
    as_arrays = [([t for t, _ in rows], np.asarray([i for _, i in rows])) for rows in (calibration, other)]
    return ([t for t, _ in train], [i for _, i in train]), as_arrays[0], as_arrays[1]


def one_direction(model, train, fit_half, scored_half, targets) -> dict:
    """Fit every candidate on ``fit_half`` and score ``scored_half`` with its thresholds."""
    from finetune import oos_fit

    candidates, _, _ = oos_fit.candidate_scores(model, train[0], train[1], fit_half[0])
    outputs = model.outputs(scored_half[0])
    msp, forced, guesses = oos_fit.in_scope_guesses(outputs.intent, model.intent_labels)
    fit_oos = fit_half[1] == OOS
    rows = {}
    for name, (detector, fit_scores) in candidates.items():
        scores = msp if detector is None else detector.scores(outputs.sentence, msp)
        # the scored half's AUROC only: averaged over both directions, the fitting half's is the same number
        row = {"auroc": oos_fit.threshold_free(scores, scored_half[1] == OOS)["auroc"]}
        for target in targets:
            threshold = oos_fit.choose_threshold(fit_scores, fit_oos, target)
            decisions = oos_fit.decided(scores, threshold, forced, guesses)
            row[str(target)] = oos_fit.decision_metrics(decisions, scored_half[1])
        rows[name] = row
    return rows


def mean_of(first: dict, second: dict) -> dict:
    """The two directions' figures averaged, leaf by leaf."""
    if isinstance(first, dict):
        return {key: mean_of(first[key], second[key]) for key in first}
    return round((first + second) / 2, 4)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="the folder benchmarks/splits.py wrote")
    parser.add_argument("--model", nargs="+", required=True, help="Helpline model directories trained on "
                        "WORK/clinc150.json (python -m finetune train --intent-data WORK/clinc150.json ...)")
    parser.add_argument("--targets", nargs="+", type=float, default=list(TARGETS),
                        help="OOS recall targets the thresholds are set for on the fitting half")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "oos_transfer.json")
    args = parser.parse_args(argv)
    from bot.model.helpline_model import HelplineModel

    train, calibration, other = halves(args.work)
    report = {"machine": machine(), "targets": args.targets,
              "out_of_scope": [int((half[1] == OOS).sum()) for half in (calibration, other)], "models": {}}
    for directory in args.model:
        model = HelplineModel.from_pretrained(directory)
        forward = one_direction(model, train, calibration, other, args.targets)
        backward = one_direction(model, train, other, calibration, args.targets)
        report["models"][directory] = {"chosen": model.metadata.get("oos_selection", {}).get("chosen"),
                                       "scores": mean_of(forward, backward)}
    for directory, entry in report["models"].items():
        print(f"\n{directory} (kept by training: {entry['chosen']}); in scope / OOS recall, both directions' mean")
        print(f"{'score':<18}{'AUROC':>8}" + "".join(f"{f'{t:.0%} target':>20}" for t in args.targets))
        for name, row in entry["scores"].items():
            cells = "".join(f"{row[str(t)]['in_scope_accuracy']:>12.4f} / {row[str(t)]['oos_recall']:.2f}"
                            for t in args.targets)
            print(f"{name:<18}{row['auroc']:>8.4f}{cells}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
