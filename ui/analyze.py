"""The Analyze tab: upload a helpdesk export (our transcript JSONL or CSV), watch the analysis run, read the
report in the page and download the per-message JSON lines and the per-conversation CSV (`python -m bot analyze
--report`, the same code). PII is redacted before the model reads a message, as in live chat; the upload and
the outputs are deleted once Gradio has copied the downloads into its own cache (which it empties daily)."""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

from bot.batch.analyze import analyze
from bot.batch.report import Report
from bot.batch.transcripts import TranscriptError

from . import require_agent

UPLOAD_NOTE = ("Transcripts as JSON Lines (one conversation a line) or CSV (conversation_id, role, text), up to "
               "{limit}; larger exports: `python -m bot analyze --transcripts FILE --output OUT.jsonl --report DIR`.")
PREFIX = "helpline-analyze-"
KEEP_SECONDS = 60.0   # the outputs outlive the handler this long: Gradio copies them to its cache right after
MAX_MESSAGES = 20_000  # customer messages per upload: the app's own model serves chats meanwhile


def remove_later(folder: Path, seconds: float | None = None) -> None:
    """Delete an analysis folder once its files are in Gradio's cache; folders a stopped process left behind
    go at the next analysis."""
    timer = threading.Timer(KEEP_SECONDS if seconds is None else seconds, shutil.rmtree, (folder,),
                            {"ignore_errors": True})
    timer.daemon = True
    timer.start()
    for stale in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        if stale != folder and time.time() - stale.stat().st_mtime > 10 * KEEP_SECONDS:
            shutil.rmtree(stale, ignore_errors=True)


def build(ctx, upload_limit: str) -> None:
    def run(upload: str | None, request: gr.Request, progress=gr.Progress(track_tqdm=True)):
        require_agent(ctx, request)
        if not upload:
            raise gr.Error("Choose a transcript file (.jsonl or .csv) first.")
        source = Path(upload)
        if not source.is_file():
            raise gr.Error(f"{source.name} was analyzed already and is not kept: upload it again.")
        if source.suffix.lower() not in (".jsonl", ".json", ".csv"):
            raise gr.Error(f"{source.name}: use a .jsonl or .csv transcript file.")
        folder = Path(tempfile.mkdtemp(prefix=PREFIX))
        report = Report(folder / "report")
        progress(0, desc="reading the conversations")
        try:
            analyze(ctx.helpline().classifier, [str(source)], folder / "messages.jsonl", report=report,
                    redact_pii=True, max_messages=MAX_MESSAGES)
            page = report.finish()
        except (TranscriptError, UnicodeDecodeError) as exc:
            report.abandon()
            raise gr.Error(str(exc).replace(str(source.parent) + "/", "")) from None
        finally:
            source.unlink(missing_ok=True)    # the raw export, PII and all, is not kept
            remove_later(folder)
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
        start.click(run, upload, [shown, downloads], api_name="analyze_export")
