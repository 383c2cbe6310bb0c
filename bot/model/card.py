"""The README.md model card written into every model directory, from its metadata."""
from __future__ import annotations

from bot.model.prediction import OOS


def _metric_rows(metrics: dict) -> list[str]:
    rows = []
    for split, values in metrics.items():
        if isinstance(values, dict):
            for name, value in values.items():
                if isinstance(value, (int, float)):
                    rows.append(f"| {split} | {name} | {value:.4f} |" if isinstance(value, float)
                                else f"| {split} | {name} | {value} |")
    return rows


def intent_validation_note(validation: dict) -> list[str]:
    """Lines saying why a model's validation metrics (``validation``) hold no intent scores; none when they do."""
    if "intent_accuracy" in validation:
        return []
    return ["", "No intent validation scores: this model was trained on every example (no validation split; "
                "`--validation-fraction 0.1` holds one out). Score it with `python -m finetune evaluate "
                "--model DIR --intent-test FILE`."]


def upset_section(meta: dict) -> list[str]:
    """What the upset head (frustration, sentiment) learnt from, with each source's licence, and how it read the
    held-out real tweets; nothing when the model has none."""
    upset = meta.get("upset")
    if not upset:
        return []
    sources = [f"| {name} | {s.get('texts')} | {s.get('upset')} | {s.get('licence', '')} |"
               for name, s in upset.get("trained_on", {}).items()]
    held = [f"| {name} | {r['auc']:.3f} | {r['f1']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} | "
            f"{r['share_negative']:.1%} / {r['share_labelled']:.1%} |" for name, r in upset.get("held_out", {}).items()]
    return ["", "## Upset head (frustration, sentiment)", "",
            "Trained on (check the licences before commercial use; `--without-restricted-data` leaves out the "
            "airline and complaints tweets):", "", "| source | texts | upset | licence |", "|---|---|---|---|",
            *sources, "", f"Negative from {upset.get('negative_cut')}; on held-out real tweets:", "",
            "| set | AUC | F1 | precision | recall | read negative / labelled |", "|---|---|---|---|---|---|", *held]


def oos_line(meta: dict) -> str:
    """How the model tells out-of-scope messages: the score it decides with and where that came from."""
    selection = meta.get("oos_selection") or {}
    chosen = selection.get("chosen", "msp")
    if selection.get("pseudo_out_of_scope"):
        source = (f"no out-of-scope examples: chosen with intents held out in turn"
                  f"{' and background texts' if selection.get('background_texts') else ''}, threshold turning away "
                  f"at most {selection.get('budget', 0):.2%} of correct in-scope answers")
    else:
        source = "chosen by cross-validation on out-of-scope validation examples" if selection else "no guard chosen"
    if meta.get("oos_score_threshold") is not None:
        return f"- Out of scope: `{chosen}` score at or above {meta['oos_score_threshold']:.4f} ({source})"
    return (f"- Out of scope: top in-scope probability below {meta.get('oos_threshold', 0):.3f} "
            f"({source if meta.get('oos_threshold') else 'no threshold'})")


def model_card(meta: dict) -> str:
    intents = [label for label in meta["intent_labels"] if label != OOS]
    training = meta.get("training", {})
    data_rows = [f"| {d.get('kind', '')} | `{d.get('source', '')}` | {d.get('rows', '')} | "
                 f"`{d.get('sha256', '')[:16]}` |"
                 for d in training.get("data", [])]
    metric_rows = _metric_rows(meta.get("metrics", {}))
    lines = [
        "---",
        "library_name: helpline",
        "pipeline_tag: text-classification",
        "tags: [intent-classification, emotion, goemotions, customer-service]",
        "---",
        f"# Helpline model {meta.get('model_version', '')}".rstrip(),
        "",
        "One Transformer encoder with two heads, used by Helpline: an **intent** head "
        f"({len(intents)} intents{', plus an explicit out-of-scope class' if 'oos' in meta['intent_labels'] else ''}) "
        f"and a multi-label **emotion** head ({len(meta['emotion_labels'])} GoEmotions labels). "
        "One encoder pass gives both.",
        "",
        f"- Base encoder: `{meta.get('base_model')}`; mean pooling; max length {meta.get('max_length')} tokens",
        oos_line(meta),
        f"- Created: {meta.get('created', 'unknown')}; format version {meta.get('format_version')}",
        "",
        "Load with `bot.HelplineModel.from_pretrained(path)`; `predict(text)` returns intent, confidence, "
        "alternatives, emotions, sentiment and frustration.",
        "",
        "## Training data",
        "",
        "| task | source | rows | sha256 |",
        "|---|---|---|---|",
        *data_rows,
        "",
        "## Validation metrics",
        "",
        "| split | metric | value |",
        "|---|---|---|",
        *metric_rows,
        *intent_validation_note(meta.get("metrics", {}).get("validation", {})),
        *upset_section(meta),
        "",
        "## Intents",
        "",
        ", ".join(f"`{i}`" for i in intents),
        "",
        "## Limitations",
        "",
        "Emotion scores come from Reddit comments (GoEmotions) and are noisier on short support messages; "
        "use them for triage and trends, not for decisions about a single customer.",
        "",
    ]
    return "\n".join(lines)
