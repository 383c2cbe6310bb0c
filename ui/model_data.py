"""What the console's Model page shows: the version history, and a candidate compared with the serving model."""
from __future__ import annotations

import pandas as pd

from bot.registry.versions import SHOWN_METRICS, Registry


def history_table(registry: Registry) -> pd.DataFrame:
    data = registry.read()
    rows = []
    for version, entry in sorted(data["versions"].items(), key=lambda kv: -int(kv[0][1:])):
        metrics = entry["metrics"]
        rows.append([("▶ " if version == data["serving"] else "") + version, entry["created"],
                     *[round(metrics[m], 4) if m in metrics else None for m in SHOWN_METRICS], entry["produced_by"]])
    return pd.DataFrame(rows, columns=["version", "created", *SHOWN_METRICS, "produced by"])


def events_table(registry: Registry) -> pd.DataFrame:
    events = registry.read()["history"]
    return pd.DataFrame([[e["at"], e["action"], e["version"], e.get("previous"), e.get("by", ""),
                          e.get("reason", "")] for e in reversed(events)],
                        columns=["when", "action", "version", "previous", "by", "reason"])


def comparison(registry: Registry, candidate: str) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(summary markdown, per-intent F1 deltas, confusion changes) of ``candidate`` against the serving model."""
    data = registry.read()
    if candidate not in data["versions"]:
        raise ValueError(f"no version {candidate}")
    serving = data["serving"]
    new, old = data["versions"][candidate], data["versions"].get(serving, {})
    lines = [f"**{candidate}** against serving **{serving}**", "", "| metric | candidate | serving | change |",
             "|---|---|---|---|"]
    for metric in SHOWN_METRICS:
        a, b = new["metrics"].get(metric), old.get("metrics", {}).get(metric)
        if a is not None and b is not None:
            lines.append(f"| {metric} | {a:.4f} | {b:.4f} | {a - b:+.4f} |")
    worse = registry.compare(candidate)
    lines += ["", "Gate: " + ("passes" if not worse else "**refuses** (" + "; ".join(worse) + ")")]
    f1_new, f1_old = new.get("per_intent_f1", {}), old.get("per_intent_f1", {})
    deltas = pd.DataFrame([[intent, f1_new.get(intent), f1_old.get(intent),
                            round(f1_new.get(intent, 0) - f1_old.get(intent, 0), 4)]
                           for intent in sorted(set(f1_new) | set(f1_old))],
                          columns=["intent", "candidate F1", "serving F1", "change"]).sort_values("change")
    pairs = {}
    for tag, entry in (("candidate", new), ("serving", old)):
        for c in entry.get("confused_pairs", []):
            pairs.setdefault((c["true"], c["predicted"]), {"candidate": 0, "serving": 0})[tag] = c["count"]
    confusion = pd.DataFrame([[t, p, v["candidate"], v["serving"], v["candidate"] - v["serving"]]
                              for (t, p), v in pairs.items()],
                             columns=["true", "predicted", "candidate", "serving", "change"]).sort_values("change")
    return "\n".join(lines), deltas, confusion
