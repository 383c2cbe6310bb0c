"""The report of `python -m bot analyze --report DIR`: conversations.csv (one row per conversation) and
report.html (one self-contained file, plots embedded as PNG, no network).

It is built while analyze streams: rows are written as conversations finish and only aggregates are kept
(counts and sums per intent and per turn, the most frustrated conversations, a bounded sample of out-of-scope
messages), so memory does not grow with the number of conversations.
"""
from __future__ import annotations

import base64
import csv
import heapq
import html
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from bot.model.prediction import OOS

CSV_COLUMNS = ["conversation_id", "first_intent", "intents", "messages", "customer_messages", "handoff",
               "peak_frustration", "final_frustration", "predicted_satisfaction", "csat", "duration_seconds"]
AT_RISK = 25          # conversations listed as at risk
OOS_SAMPLE = 2000     # out-of-scope messages kept (reservoir sample) for the themes
MAX_TURN = 20         # frustration by turn: turns beyond this are counted as this one


class Report:
    """Feed it each conversation with its analysed customer messages (`add`), then `finish`."""

    def __init__(self, directory: str | Path, seed: int = 0):
        self.directory = Path(directory)
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        # everything is written beside DIR first and moved in by `finish`: a run that fails on a bad file
        # (or is interrupted) leaves an earlier report in DIR whole
        self._staging = Path(tempfile.mkdtemp(prefix=f".{self.directory.name}.", dir=self.directory.parent))
        self._file = (self._staging / "conversations.csv").open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(CSV_COLUMNS)
        self.conversations = 0
        self.volume = Counter()                       # intent -> customer messages
        self.frustration_sum = defaultdict(float)     # intent -> sum of frustration
        self.by_turn = defaultdict(lambda: [0.0, 0])  # customer turn number -> [sum, count]
        self.before_handoff = Counter()               # intent of the last customer message before a person
        self.handoffs = 0
        self.at_risk: list[tuple[float, str, str]] = []   # min-heap of (peak, conversation, worst message)
        self.oos: list[str] = []
        self._oos_seen = 0
        self._rng = random.Random(seed)

    def add(self, conversation: dict, rows: list[dict]) -> None:
        turns = conversation["messages"]
        cid = str(conversation.get("id", ""))
        intents = [r["intent"] for r in rows]
        frustration = [r["frustration"] for r in rows]
        person = next((i for i, t in enumerate(turns) if t["role"] == "agent"), None)
        handoff = person is not None and any(t["role"] == "bot" for t in turns[:person])
        if handoff:
            self.handoffs += 1
            before = [r for r in rows if r["index"] < person]
            if before:
                self.before_handoff[before[-1]["intent"]] += 1
        for number, row in enumerate(rows):
            self.volume[row["intent"]] += 1
            self.frustration_sum[row["intent"]] += row["frustration"]
            slot = self.by_turn[min(number + 1, MAX_TURN)]
            slot[0] += row["frustration"]
            slot[1] += 1
            if row["intent"] == OOS:
                self._sample_oos(row["text"])
        peak = max(frustration, default=0.0)
        times = [t["time"] for t in turns if isinstance(t.get("time"), (int, float))]
        self._csv.writerow([cid, intents[0] if intents else "", " ".join(dict.fromkeys(intents)), len(turns),
                            len(rows), handoff, round(peak, 4), round(frustration[-1], 4) if rows else "",
                            round(1.0 - peak, 4), conversation.get("csat", ""),
                            round(max(times) - min(times), 1) if len(times) > 1 else ""])
        if rows:
            worst = rows[frustration.index(peak)]["text"]
            item = (peak, cid, worst)
            heapq.heappush(self.at_risk, item) if len(self.at_risk) < AT_RISK else heapq.heappushpop(self.at_risk, item)
        self.conversations += 1

    def _sample_oos(self, text: str) -> None:
        """Reservoir sampling: every out-of-scope message has the same chance to be in the bounded sample."""
        self._oos_seen += 1
        if len(self.oos) < OOS_SAMPLE:
            self.oos.append(text)
        elif (j := self._rng.randrange(self._oos_seen)) < OOS_SAMPLE:
            self.oos[j] = text

    def finish(self, themes: list[dict] | None = None) -> Path:
        """Close the CSV and write report.html; ``themes``: candidate intents (default: `oos_themes`)."""
        self._file.close()
        themes = oos_themes(self.oos) if themes is None else themes
        (self._staging / "report.html").write_text(render(self, themes), encoding="utf-8")
        self.directory.mkdir(parents=True, exist_ok=True)
        for name in ("conversations.csv", "report.html"):
            os.replace(self._staging / name, self.directory / name)
        self._staging.rmdir()
        return self.directory / "report.html"

    def abandon(self) -> None:
        """Drop what this run wrote; DIR keeps whatever it held before."""
        self._file.close()
        shutil.rmtree(self._staging, ignore_errors=True)


def oos_themes(texts: list[str]) -> list[dict]:
    """Candidate new intents among out-of-scope messages, from the intent-discovery command (run as a child
    process: serving code does not import training code). Empty when there are too few messages or it fails."""
    if len(texts) < 20:
        return []
    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "oos.txt", Path(folder) / "themes.json"
        source.write_text("\n".join(t.replace("\n", " ") for t in texts), encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "finetune", "discover", "--texts", str(source), "--output",
                               str(output)], capture_output=True, text=True)
        return json.loads(output.read_text()) if done.returncode == 0 and output.exists() else []


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def plots(report: Report) -> dict[str, str]:
    """The report's charts as base64 PNGs (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out = {}
    top = report.volume.most_common(20)
    if top:
        names = [n for n, _ in top][::-1]
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, max(3, 0.3 * len(names))), sharey=True)
        left.barh(names, [report.volume[n] for n in names], color="#1f6feb")
        left.set_xlabel("customer messages")
        right.barh(names, [report.frustration_sum[n] / report.volume[n] for n in names], color="#d9534f")
        right.set_xlabel("mean frustration")
        right.set_xlim(0, 1)
        fig.suptitle("Volume and frustration by intent (the 20 most frequent)")
        out["intents"] = _png(fig)
        plt.close(fig)
    if report.by_turn:
        turns = sorted(report.by_turn)
        fig, axis = plt.subplots(figsize=(8, 3))
        axis.plot(turns, [report.by_turn[t][0] / report.by_turn[t][1] for t in turns], marker="o", color="#d9534f")
        axis.set_xlabel(f"customer message number in the conversation ({MAX_TURN} = {MAX_TURN} or later)")
        axis.set_ylabel("mean frustration")
        axis.set_ylim(0, 1)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))   # message numbers are whole
        axis.set_title("Frustration through a conversation")
        out["turns"] = _png(fig)
        plt.close(fig)
    return out


def render(report: Report, themes: list[dict]) -> str:
    charts = plots(report)
    esc = html.escape
    risk = sorted(report.at_risk, reverse=True)
    # styles scoped to the report's own div: the Analyze tab shows the same page inside the app's
    parts = ["<!doctype html><meta charset='utf-8'><title>Helpline conversation report</title>",
             "<style>.hl-report{font:14px system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#1b1b1b}"
             ".hl-report table{border-collapse:collapse}"
             ".hl-report td,.hl-report th{border:1px solid #ccd;padding:4px 8px;text-align:left}"
             ".hl-report img{max-width:100%}</style><div class='hl-report'>",
             "<h1>Helpline conversation report</h1>",
             f"<p>{report.conversations} conversations, {sum(report.volume.values())} customer messages, "
             f"{report.handoffs} handed from the bot to a person. One row per conversation: "
             "<a href='conversations.csv'>conversations.csv</a>.</p>"]
    for key, title in (("intents", "Volume and frustration by intent"), ("turns", "Frustration by turn")):
        if key in charts:
            parts.append(f"<h2>{title}</h2><img alt='{title}' src='data:image/png;base64,{charts[key]}'>")
    parts.append("<h2>What precedes escalations</h2>")
    if report.before_handoff:
        parts.append("<table><tr><th>last customer intent before a person took over</th><th>conversations</th></tr>"
                     + "".join(f"<tr><td>{esc(i)}</td><td>{n}</td></tr>"
                               for i, n in report.before_handoff.most_common(15)) + "</table>")
    else:
        parts.append("<p>No conversation went from the bot to a person.</p>")
    parts.append("<h2>At-risk conversations</h2><p>The most frustrated; find them in conversations.csv by id.</p>"
                 "<table><tr><th>conversation</th><th>peak frustration</th><th>its most frustrated message</th></tr>"
                 + "".join(f"<tr><td id='c-{esc(c)}'>{esc(c)}</td><td>{p:.2f}</td><td>{esc(t)}</td></tr>"
                           for p, c, t in risk) + "</table>")
    parts.append("<h2>Top out-of-scope themes</h2>")
    if themes:
        parts.append("<table><tr><th>candidate intent</th><th>messages</th><th>examples</th></tr>"
                     + "".join(f"<tr><td>{esc(t['name'])}</td><td>{t['size']}</td>"
                               f"<td>{esc(' | '.join(t['examples'][:3]))}</td></tr>" for t in themes[:10])
                     + "</table>")
    else:
        parts.append("<p>Too few out-of-scope messages to group into themes.</p>")
    return "\n".join(parts) + "</div>"
