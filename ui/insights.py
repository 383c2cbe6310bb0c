"""The Insights tab: volume, sentiment, handoffs, out-of-scope messages, customers at risk, and discovery of
candidate new intents (which a logged-in agent can add to the catalogue)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from intents import CatalogueError
from intents.editing import add_intent
from ui import insights_data as insights

from . import require_agent


def from_zero(frame: pd.DataFrame, column: str, stacked_by: str | None = None) -> gr.BarPlot:
    """A bar chart of counts: the y axis starts at 0 (Gradio starts it at the smallest bar, so one bar of 1 shows
    nothing) and ticks whole numbers (an axis of at least 0-5 with integer labels: no "0.5 messages"), hidden
    while it has nothing to show (an empty chart frame reads as a broken page). ``stacked_by``: the x column of a
    chart whose bars stack by colour, so the axis covers each bar's total."""
    values = frame.groupby(stacked_by)[column].sum() if stacked_by and len(frame) else frame[column]
    top = float(values.max()) if len(frame) else 0.0
    return gr.BarPlot(value=frame, y_lim=[0, max(5, math.ceil(top * 1.1))], y_axis_format="d",
                      visible=len(frame) > 0)


def csat_bars(frame: pd.DataFrame) -> gr.BarPlot:
    """Mean CSAT bars on a fixed 0-5 axis (so two charts compare at a glance), hidden until there are ratings."""
    return gr.BarPlot(value=frame, y_lim=[0, 5], visible=len(frame) > 0)


def build(ctx) -> None:
    def show(days: float, request: gr.Request):
        require_agent(ctx, request)
        data = insights.compute(ctx.helpline().store, days=min(365, max(1, int(days or 30))))
        summary = (f"**Handoff rate:** {data.handoff_rate:.1%} of conversations" if len(data.volume_by_intent) else
                   f"**No customer messages in the last {int(days or 30)} days yet.** The charts appear with the "
                   "first conversation (the Chat tab or the web widget).")
        return (from_zero(data.volume_by_intent, "messages"), from_zero(data.sentiment_over_time, "messages", "time"),
                from_zero(data.handoff_reasons, "handoffs"), summary, data.top_out_of_scope, data.at_risk,
                csat_bars(data.csat_over_time), csat_bars(data.csat_by_intent), csat_bars(data.predicted_vs_given),
                gr.Markdown(visible=not len(data.csat_over_time)))

    def discover(request: gr.Request, progress=gr.Progress()):
        require_agent(ctx, request)
        progress(0.1, desc="clustering out-of-scope and uncertain messages")
        output = Path(tempfile.mkdtemp()) / "candidates.json"
        env = {**os.environ, "HELPLINE_DB": ctx.settings.db, "HELPLINE_MODEL": ctx.settings.model_dir}
        # training-side code runs in a child process: serving never imports it
        result = subprocess.run([sys.executable, "-m", "finetune", "discover", "--from-store", "--output", str(output)],
                                env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise gr.Error(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "discovery failed")
        candidates = json.loads(output.read_text())
        table = pd.DataFrame([[c["name"], c["size"], ", ".join(c["key_terms"]), " | ".join(c["examples"][:3])]
                              for c in candidates], columns=["suggested name", "messages", "key terms", "examples"])
        return candidates, table

    def pick(candidates, evt: gr.SelectData, request: gr.Request):
        require_agent(ctx, request)
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        chosen = candidates[row]
        return chosen["name"], "\n".join(chosen["all_examples"][:30])

    def accept(name: str, examples: str, request: gr.Request):
        who = require_agent(ctx, request)
        try:
            catalogue = add_intent(ctx.settings.catalogue, (name or "").strip(), (examples or "").splitlines(),
                                   who=who.name)
        except CatalogueError as exc:
            raise gr.Error(str(exc)) from None
        ctx.helpline().reload_catalogue(ctx.settings.catalogue)
        return (f"Added **{name}** with {len(catalogue[name].examples)} examples to the catalogue. It hands off "
                "to a person until you write its replies; retrain (Model tab) so the model learns it.")

    with gr.Tab("Insights") as tab:
        with gr.Row():
            days = gr.Slider(1, 90, value=30, step=1, label="Days")
            refresh = gr.Button("Refresh")
        with gr.Row():
            volume = gr.BarPlot(x="intent", y="messages", title="Messages by intent", x_label_angle=-45)
            # bars, not a line: readable from the first hour of data
            sentiment = gr.BarPlot(x="time", y="messages", color="sentiment", title="Sentiment over time")
        with gr.Row():
            reasons = gr.BarPlot(x="reason", y="handoffs", title="Handoffs by reason")
            rate = gr.Markdown()
        with gr.Row():
            csat_time = gr.BarPlot(x="day", y="mean CSAT", title="CSAT (customers' own 1-5 ratings) by day",
                                   tooltip=["ratings"])
            csat_intent = gr.BarPlot(x="intent", y="mean CSAT", title="CSAT by intent", x_label_angle=-45,
                                     tooltip=["ratings"])
            csat_risk = gr.BarPlot(x="predicted risk", y="mean CSAT", tooltip=["ratings"],
                                   sort=[band for _, band in insights.RISK_BANDS],
                                   title="Given CSAT by the satisfaction risk Helpline predicted")
        no_csat = gr.Markdown("*No customer ratings yet: the widget and the Chat tab ask \"How did we do?\" when a "
                              "conversation ends.*")
        with gr.Row():
            top_oos = gr.Dataframe(label="Top out-of-scope messages (candidates for new intents)",
                                   headers=["text", "times"])
            at_risk = gr.Dataframe(label="At-risk customers (negative sentiment, most frustrated first; open them "
                                         "from the queue)",
                                   headers=["time", "intent", "sentiment", "frustration", "text"])
        charts = [volume, sentiment, reasons, rate, top_oos, at_risk, csat_time, csat_intent, csat_risk, no_csat]
        refresh.click(show, days, charts, api_name="insights")
        tab.select(show, days, charts, show_progress="hidden")   # drawn when the tab is opened, no Refresh click
        with gr.Accordion("Discover new intents", open=False):
            gr.Markdown("Clusters out-of-scope and low-confidence messages into candidate intents. Click one to "
                        "review its examples, name it and add it to the catalogue (agents only).")
            candidates = gr.State([])
            discover_button = gr.Button("Discover")
            found = gr.Dataframe(interactive=False, wrap=True)
            with gr.Row():
                name = gr.Textbox(label="Intent name (lower_case)")
                examples = gr.Textbox(label="Examples (one a line; edit freely)", lines=6)
            accept_button = gr.Button("Add to catalogue")
            accepted = gr.Markdown()
        discover_button.click(discover, None, [candidates, found], api_name="discover")
        found.select(pick, candidates, [name, examples])
        accept_button.click(accept, [name, examples], accepted, api_name="add_intent")
