"""The accuracy table in benchmarks/RESULTS.md, regenerated between markers by benchmarks/accuracy.py."""
from __future__ import annotations

from pathlib import Path

NAMES = {"tfidf_svc": "TF-IDF + LinearSVC", "frozen_lr": "frozen MiniLM + LR", "helpline": "Helpline",
         "helpline_msp": "Helpline, max-softmax OOS (before)"}
COLUMNS = {"banking77": [("intent_accuracy", "accuracy")],
           "clinc150": [("in_scope_accuracy", "in-scope acc."), ("oos_recall", "OOS recall"), ("oos_f1", "OOS F1"),
                        ("oos_auroc", "OOS AUROC"), ("oos_fpr95", "OOS FPR95")],
           "goemotions": [("emotion_macro_f1", "macro-F1"), ("emotion_micro_f1", "micro-F1")]}


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """A Markdown table's lines: the header, the rule, one line a row (cells already formatted)."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def table(record: dict) -> str:
    commands = "; then ".join(f"`{c}`" for c in record.get("runs", [record["command"]]))
    rows = []
    for task, methods in record["results"].items():
        for method, m in methods.items():
            for key, name in COLUMNS[task]:
                if key not in m:
                    continue
                ratios = []
                for base in ("tfidf_svc", "frozen_lr"):
                    b = methods.get(base, {}).get(key)
                    ratios.append(f"{m[key] / b:.3f}x" if b else "-")
                rows.append([task, NAMES[method], name, f"{m[key]:.4f}", *ratios, difference(m.get("vs", {}), key),
                             f"{m.get('train_seconds', 0):.0f} s", f"{m.get('peak_rss_mb', 0)} MB"])
    lines = [f"Mode: **{record['mode']}**; {record['date']}; {record['machine']}; commands: {commands}", ""]
    lines += markdown_table(["benchmark", "method", "metric", "value", "vs TF-IDF", "vs frozen",
                             "Helpline minus baseline, points (95% CI)", "train time", "peak RSS"], rows)
    return "\n".join(lines)


def difference(versus: dict, key: str) -> str:
    """'TF-IDF +4.9 (+3.6 to +6.2); frozen +1.4 (+0.5 to +2.3)': a Helpline row's paired bootstrap intervals."""
    parts = []
    for base, short in (("tfidf_svc", "TF-IDF"), ("frozen_lr", "frozen")):
        d = versus.get(base, {}).get(key)
        if d:
            low, high = d["ci95"]
            parts.append(f"{short} {100 * d['difference']:+.1f} ({100 * low:+.1f} to {100 * high:+.1f})")
    return "; ".join(parts) or "-"


def replace_section(path: Path, name: str, title: str, body: str) -> None:
    """Put ``body`` between RESULTS.md's markers for ``name`` (appending a titled section the first time)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[: text.index(start) + len(start)] + "\n" + body + "\n" + text[text.index(end):]
    else:
        text += f"\n## {title}\n\n{start}\n{body}\n{end}\n"
    path.write_text(text, encoding="utf-8")


def update_results_md(record: dict, path: Path) -> str:
    """Replace the accuracy table for this mode (validation or test); returns the table."""
    body = table(record)
    replace_section(path, f"accuracy-{record['mode']}", f"Accuracy ({record['mode']})", body)
    return body


def publish(name: str, title: str, record: dict, lines: list[str]) -> None:
    """Save ``record`` as benchmarks/results/NAME.json and ``lines`` as RESULTS.md's NAME section; print it."""
    import json

    root = Path(__file__).resolve().parent
    (root / "results").mkdir(parents=True, exist_ok=True)
    (root / "results" / f"{name}.json").write_text(json.dumps(record, indent=2))
    replace_section(root / "RESULTS.md", name, title, "\n".join(lines))
    print(json.dumps(record, indent=2))


def machine() -> str:
    """The machine a benchmark ran on, CPU model and vector extensions included: int8 inference and bfloat16
    training speed depend on them (VNNI, AVX-512 BF16, AMX) more than on the core count, and the same 2-core
    VM has come up as different CPUs between sessions."""
    import os
    import platform

    from bot.serving.bootstrap import cpu_flags

    model, flags = platform.processor() or platform.machine(), cpu_flags()
    try:
        model = next((line.partition(":")[2].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.partition(":")[0].strip() == "model name"), model)
    except OSError:  # not Linux: the model name from platform is all we have
        pass
    wanted = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "VNNI", "avx_vnni": "AVX-VNNI",
              "avx512_bf16": "AVX-512 BF16", "amx_tile": "AMX"}
    extensions = ", ".join(name for flag, name in wanted.items() if flag in flags) or "no AVX2"
    return (f"{os.cpu_count()} CPU cores, {model} ({platform.machine()}; {extensions}), "
            f"Python {platform.python_version()}")


def command_line(script: str, argv: list[str] | None) -> str:
    import sys

    return f"python benchmarks/{script} " + " ".join(argv if argv is not None else sys.argv[1:])


def validation_texts(args):
    """(intent texts, emotion texts, emotion labels) the speed benchmarks read: ``args.intent_texts`` or the 10% of
    Banking77's train split that `finetune train` holds out, and ``args.emotion_test`` or GoEmotions dev."""
    from finetune.data import load_emotion_data, load_intent_data, split_validation

    if args.intent_texts:
        intents = load_intent_data(args.intent_texts).train
    else:
        data = load_intent_data(str(Path(args.data) / "banking77" / "train.csv")).train
        intents = split_validation(data, 0.1, 42)[1]
    emotions = load_emotion_data(args.emotion_test or str(Path(args.data) / "goemotions" / "original"))
    table = emotions.validation if emotions.validation is not None else emotions.train
    return list(intents["text"]), list(table["text"]), table["labels"]
