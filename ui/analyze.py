"""The Analyze tab: upload a helpdesk export (our transcript JSONL or CSV), watch the analysis run, read the
report in the page and download the per-message JSON lines and the per-conversation CSV (`python -m bot analyze
--report`, the same code)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from bot.analyze import analyze
from bot.report import Report
from bot.transcripts import TranscriptError

from . import require_agent

UPLOAD_NOTE = ("Transcripts as JSON Lines (one conversation a line) or CSV (conversation_id, role, text), up to "
               "{limit}; larger exports: `python -m bot analyze --transcripts FILE --output OUT.jsonl --report DIR`.")


def build(ctx, token: gr.State, upload_limit: str) -> None:
    def run(current_token: str | None, upload: str | None, progress=gr.Progress(track_tqdm=True)):
        require_agent(ctx, current_token, "on the Agent console ")
        if not upload:
            raise gr.Error("Choose a transcript file (.jsonl or .csv) first.")
        source = Path(upload)
        if source.suffix.lower() not in (".jsonl", ".json", ".csv"):
            raise gr.Error(f"{source.name}: use a .jsonl or .csv transcript file.")
        folder = Path(tempfile.mkdtemp(prefix="helpline-analyze-"))
        report = Report(folder / "report")
        progress(0, desc="reading the conversations")
        try:
            analyze(ctx.helpline().classifier, [str(source)], folder / "messages.jsonl", report=report)
        except (TranscriptError, UnicodeDecodeError) as exc:
            raise gr.Error(str(exc).replace(str(source.parent) + "/", "")) from None
        page = report.finish()
        return (gr.HTML(page.read_text(encoding="utf-8"), visible=True),
                gr.File([str(folder / "messages.jsonl"), str(folder / "report" / "conversations.csv"), str(page)],
                        visible=True))

    with gr.Tab("Analyze"):
        gr.Markdown("Read how customers felt across an export of conversations: frustration in context, intents, "
                    "escalations, at-risk conversations and out-of-scope themes (agents only).")
        with gr.Row():
            upload = gr.File(label="Transcript export", file_types=[".jsonl", ".json", ".csv"], type="filepath",
                             elem_id="analyze-upload")
            start = gr.Button("Analyze", variant="primary")
        gr.Markdown(UPLOAD_NOTE.format(limit=upload_limit.upper().replace("MB", " MB")))
        downloads = gr.File(label="Downloads: messages.jsonl, conversations.csv, report.html", visible=False)
        shown = gr.HTML(visible=False)
        start.click(run, [token, upload], [shown, downloads], api_name="analyze_export")
