"""Helpline's front end: a Gradio customer chat that answers from the catalogue and shows, for every customer
message, the predicted intent, its confidence and the customer's emotion. UI wiring only: logic lives in bot/.

    python app.py [--model DIR] [--port N] [--host ADDR]
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if not os.environ.get("HELPLINE_ONLINE"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from bot.bootstrap import ensure_model  # noqa: E402
from bot.service import Helpline, Turn  # noqa: E402
from bot.settings import Settings  # noqa: E402

settings = Settings.from_env()
_loaded: dict[str, Helpline] = {}


def helpline() -> Helpline:
    """The serving stack (model, catalogue, policy, store), built on first use so importing app.py stays cheap."""
    if settings.model_dir not in _loaded:
        _loaded.clear()
        _loaded[settings.model_dir] = Helpline.from_settings(settings)
    return _loaded[settings.model_dir]


def analysis(turn: Turn) -> str:
    return (f"**Intent:** `{turn.intent}` ({turn.confidence:.0%} confident)  \n"
            f"**Action:** {turn.action}" + (f" ({turn.handoff_reason})" if turn.handoff else "") + "  \n"
            f"**Sentiment:** {turn.sentiment} · **Frustration:** {turn.frustration:.2f}  \n"
            f"**Emotions detected:** {', '.join(turn.emotions) or 'none'}  \n"
            f"**Triage priority:** {turn.priority:.0f}")


def chat(message: str, history: list[dict], conversation_id: str | None):
    try:
        turn = helpline().handle(message or "", conversation_id)
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    text = turn.reply or "(a member of our team will reply here)"
    text += "".join(f"\n\n▸ {q}" for q in turn.quick_replies)
    history = (history or []) + [{"role": "user", "content": message.strip()}, {"role": "assistant", "content": text}]
    return "", history, analysis(turn), turn.emotions or {"neutral": 0.0}, turn.conversation_id


with gr.Blocks(title="Helpline") as demo:
    gr.Markdown("# Helpline\nAsk about an order, a delivery, a return, a payment, your account or your subscription.")
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Chat", height=460)
            box = gr.Textbox(placeholder="Type your message and press Enter", show_label=False, max_lines=4)
        with gr.Column(scale=2):
            details = gr.Markdown("*Send a message to see how Helpline reads it.*", label="Last message")
            emotions = gr.Label(label="Emotion", num_top_classes=5)
    conversation = gr.State(None)
    box.submit(chat, [box, chatbot, conversation], [box, chatbot, details, emotions, conversation], api_name="chat")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Helpline app.")
    parser.add_argument("--model", default=settings.model_dir, help="model directory (env HELPLINE_MODEL)")
    parser.add_argument("--port", type=int, default=None, help="port (env GRADIO_SERVER_PORT; default 7860)")
    parser.add_argument("--host", default=None, help="address to listen on (env GRADIO_SERVER_NAME)")
    args = parser.parse_args(argv)
    settings.model_dir = args.model
    ensure_model(settings)
    try:
        helpline()
    except ValueError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    demo.launch(server_port=args.port, server_name=args.host)


if __name__ == "__main__":
    main()
