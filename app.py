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

from bot import HelplineModel  # noqa: E402
from bot.bootstrap import ensure_model  # noqa: E402
from bot.responder import BotReply, Responder  # noqa: E402
from bot.settings import Settings  # noqa: E402
from intents import load_catalogue  # noqa: E402

MAX_MESSAGE_CHARS = 2000
settings = Settings.from_env()
_loaded: dict[str, Responder] = {}


def responder() -> Responder:
    """The serving model and catalogue, loaded on first use (so importing app.py stays cheap)."""
    if settings.model_dir not in _loaded:
        _loaded.clear()
        _loaded[settings.model_dir] = Responder(HelplineModel.from_pretrained(settings.model_dir),
                                                load_catalogue(settings.catalogue))
    return _loaded[settings.model_dir]


def analysis(reply: BotReply) -> str:
    p = reply.prediction
    alternatives = ", ".join(f"{i} {c:.0%}" for i, c in p.alternatives[1:])
    return (f"**Intent:** `{p.intent}` ({p.confidence:.0%} confident)  \n"
            f"**Runner-up:** {alternatives or '-'}  \n"
            f"**Action:** {reply.action}  \n"
            f"**Sentiment:** {p.sentiment} · **Frustration:** {p.frustration:.2f}  \n"
            f"**Emotions detected:** {', '.join(p.detected_emotions) or 'none'}")


def chat(message: str, history: list[dict]) -> tuple[str, list[dict], str, dict[str, float]]:
    message = (message or "").strip()
    if not message:
        raise gr.Error("Type a message first.")
    if len(message) > MAX_MESSAGE_CHARS:
        raise gr.Error(f"That message is {len(message)} characters long; please keep it under {MAX_MESSAGE_CHARS}.")
    reply = responder().reply(message)
    text = reply.text + ("".join(f"\n\n▸ {q}" for q in reply.quick_replies) if reply.quick_replies else "")
    history = (history or []) + [{"role": "user", "content": message}, {"role": "assistant", "content": text}]
    top = dict(sorted(reply.prediction.emotions.items(), key=lambda kv: -kv[1])[:5])
    return "", history, analysis(reply), top


with gr.Blocks(title="Helpline") as demo:
    gr.Markdown("# Helpline\nAsk about an order, a delivery, a return, a payment, your account or your subscription.")
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="Chat", height=460)
            box = gr.Textbox(placeholder="Type your message and press Enter", show_label=False, max_lines=4)
        with gr.Column(scale=2):
            details = gr.Markdown("*Send a message to see how Helpline reads it.*", label="Last message")
            emotions = gr.Label(label="Emotion", num_top_classes=5)
    box.submit(chat, [box, chatbot], [box, chatbot, details, emotions], api_name="chat")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Helpline app.")
    parser.add_argument("--model", default=settings.model_dir, help="model directory (env HELPLINE_MODEL)")
    parser.add_argument("--port", type=int, default=None, help="port (env GRADIO_SERVER_PORT; default 7860)")
    parser.add_argument("--host", default=None, help="address to listen on (env GRADIO_SERVER_NAME)")
    args = parser.parse_args(argv)
    settings.model_dir = args.model
    ensure_model(settings)
    try:
        responder()
    except ValueError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    demo.launch(server_port=args.port, server_name=args.host)


if __name__ == "__main__":
    main()
