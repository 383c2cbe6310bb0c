"""Helpline's front end: one process serving the Gradio UI (customer chat, agent console, insights, model),
the REST API (/api, docs at /docs) and the embeddable web chat widget (/widget.js, demo at /widget-demo).
UI wiring only: logic lives in bot/.

    python app.py [--model DIR] [--db URL] [--agent-token TOKEN] [--port N] [--host ADDR]
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if not os.environ.get("HELPLINE_ONLINE"):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from bot import console, insights  # noqa: E402
from bot.api import create_api  # noqa: E402
from bot.bootstrap import ensure_model  # noqa: E402
from bot.service import Helpline, Turn  # noqa: E402
from bot.settings import Settings  # noqa: E402

settings = Settings.from_env()
_loaded: dict[tuple[str, str], Helpline] = {}
HANDOFF_BANNER = "### 🧑‍💼 You are now talking to a person\nA member of our team has this conversation and will reply here."


def helpline() -> Helpline:
    """The serving stack (model, catalogue, policy, store), built on first use so importing app.py stays cheap."""
    key = (settings.model_dir, settings.db)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = Helpline.from_settings(settings)
    return _loaded[key]


# ------------------------------------------------------------------------------------------- customer chat
def analysis(turn: Turn) -> str:
    return (f"**Intent:** `{turn.intent}` ({turn.confidence:.0%} confident)  \n"
            f"**Action:** {turn.action}" + (f" ({turn.handoff_reason})" if turn.handoff else "") + "  \n"
            f"**Sentiment:** {turn.sentiment} · **Frustration:** {turn.frustration:.2f}  \n"
            f"**Emotions detected:** {', '.join(turn.emotions) or 'none'}  \n"
            f"**Triage priority:** {turn.priority:.0f}")


def _agent_messages(conversation_id: str | None, after: int) -> tuple[list[dict], int]:
    if not conversation_id:
        return [], after
    new = [m for m in helpline().store.messages(conversation_id, after_id=after)]
    shown = [{"role": "assistant", "content": f"🧑‍💼 {m.text}"} for m in new if m.role == "agent"]
    return shown, max([after] + [m.id for m in new])


def chat(message: str, history: list[dict], conversation_id: str | None, last_seen: int):
    try:
        turn = helpline().handle(message or "", conversation_id)
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    earlier, _ = _agent_messages(turn.conversation_id, last_seen or 0)  # agent replies not yet shown
    history = (history or []) + earlier + [{"role": "user", "content": message.strip()}]
    if turn.reply:
        history.append({"role": "assistant", "content": turn.reply})
    seen = max(turn.message_id, turn.reply_message_id or 0)
    return ("", history, analysis(turn), turn.emotions or {"neutral": 0.0}, turn.conversation_id, seen,
            gr.Radio(choices=turn.quick_replies, value=None, visible=bool(turn.quick_replies)),
            gr.Markdown(HANDOFF_BANNER, visible=turn.handoff))


def quick_reply(choice: str | None, history, conversation_id, last_seen):
    if not choice:
        raise gr.Error("Pick one of the options.")
    return chat(choice, history, conversation_id, last_seen)


def poll_chat(conversation_id: str | None, history: list[dict], last_seen: int):
    """Agent replies arrive live: every few seconds, append what agents wrote since the last message shown."""
    shown, seen = _agent_messages(conversation_id, last_seen or 0)
    if not shown:
        return gr.skip(), seen
    return (history or []) + shown, seen


# ------------------------------------------------------------------------------------------- agent console
def _agent(token: str | None):
    agent = helpline().store.agent_for_token(token) if token else None
    if agent is None:
        raise gr.Error("Log in first (your session may have expired).")
    return agent


def login(name: str, password: str):
    result = helpline().store.login((name or "").strip(), password or "")
    if result is None:
        raise gr.Error("Wrong name or password.")
    agent, token = result
    return token, f"Logged in as **{agent.name}**.", gr.Column(visible=True), console.queue_table(helpline())


def refresh_queue(token: str | None):
    if not token:
        return gr.skip()
    _agent(token)
    return console.queue_table(helpline())


def pick_conversation(token: str | None, queue, evt: gr.SelectData):
    _agent(token)
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return queue.iloc[row]["conversation"]


def open_conversation(token: str | None, conversation_id: str):
    _agent(token)
    if not conversation_id:
        raise gr.Error("Pick a conversation in the queue.")
    try:
        history, table, timeline = console.transcript(helpline(), conversation_id.strip())
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    return history, table, timeline


def explain_message(token: str | None, table, evt: gr.SelectData):
    _agent(token)
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return console.why(helpline(), table.iloc[row]["text"]), int(table.iloc[row]["message id"])


def agent_reply(token: str | None, conversation_id: str, text: str):
    agent = _agent(token)
    if not (text or "").strip():
        raise gr.Error("Write a reply first.")
    try:
        helpline().store.agent_reply(conversation_id.strip(), text.strip(), agent.id)
    except KeyError:
        raise gr.Error(f"No conversation {conversation_id}.") from None
    return ("", *open_conversation(token, conversation_id), console.queue_table(helpline()))


def take_over(token: str | None, conversation_id: str):
    agent = _agent(token)
    try:
        helpline().store.take_over(conversation_id.strip(), agent.id)
    except KeyError:
        raise gr.Error(f"No conversation {conversation_id}.") from None
    return console.queue_table(helpline())


def resolve(token: str | None, conversation_id: str):
    _agent(token)
    try:
        helpline().store.resolve(conversation_id.strip())
    except KeyError:
        raise gr.Error(f"No conversation {conversation_id}.") from None
    return console.queue_table(helpline())


def correct_label(token: str | None, message_id, intent: str):
    agent = _agent(token)
    if not message_id or not intent:
        raise gr.Error("Pick a customer message (click its row) and an intent.")
    try:
        c = helpline().store.correct_label(int(message_id), intent, agent.id)
    except KeyError:
        raise gr.Error(f"No customer message {message_id}.") from None
    return f"Message {int(message_id)}: `{c.previous_intent}` → `{c.intent}` (stored for retraining)."


def intent_choices() -> list[str]:
    service = helpline()
    return sorted(set(service.classifier.intent_labels) | set(service.catalogue.intents))


# --------------------------------------------------------------------------------------- insights and model
def show_insights(days: float):
    data = insights.compute(helpline().store, days=int(days or 30))
    return (data.volume_by_intent, data.sentiment_over_time, data.handoff_reasons,
            f"**Handoff rate:** {data.handoff_rate:.1%} of conversations", data.top_out_of_scope, data.at_risk)


def show_model():
    return console.model_summary(helpline())


with gr.Blocks(title="Helpline") as demo:
    gr.Markdown("# Helpline")
    with gr.Tab("Chat"):
        conversation = gr.State(None)
        last_seen = gr.State(0)
        with gr.Row():
            with gr.Column(scale=3):
                banner = gr.Markdown(HANDOFF_BANNER, visible=False)
                chatbot = gr.Chatbot(label="Chat", height=440)
                quick = gr.Radio(label="Did you mean", choices=[], visible=False)
                box = gr.Textbox(placeholder="Ask about an order, a delivery, a payment, your account or "
                                 "subscription, and press Enter", show_label=False, max_lines=4)
            with gr.Column(scale=2):
                details = gr.Markdown("*Send a message to see how Helpline reads it.*")
                emotions = gr.Label(label="Emotion", num_top_classes=5)
        outputs = [box, chatbot, details, emotions, conversation, last_seen, quick, banner]
        box.submit(chat, [box, chatbot, conversation, last_seen], outputs, api_name="chat")
        quick.input(quick_reply, [quick, chatbot, conversation, last_seen], outputs, api_name="quick_reply")
        gr.Timer(2.0).tick(poll_chat, [conversation, chatbot, last_seen], [chatbot, last_seen], api_name="poll_chat",
                           show_progress="hidden")

    with gr.Tab("Agent console"):
        token = gr.State(None)
        with gr.Row():
            name = gr.Textbox(label="Agent name", scale=2)
            password = gr.Textbox(label="Password", type="password", scale=2)
            login_button = gr.Button("Log in", scale=1)
        login_status = gr.Markdown("Agents log in with the account made by `python -m bot agents add NAME`.")
        with gr.Column(visible=False) as desk:
            queue = gr.Dataframe(label="Queue (most urgent first; click a row to open it)", interactive=False,
                                 headers=console.QUEUE_COLUMNS, wrap=True)
            with gr.Row():
                selected = gr.Textbox(label="Conversation", scale=3)
                open_button = gr.Button("Open", scale=1)
                take_button = gr.Button("Take over", scale=1)
                resolve_button = gr.Button("Resolve", scale=1, variant="stop")
            with gr.Row():
                with gr.Column(scale=3):
                    transcript = gr.Chatbot(label="Conversation", height=360)
                    reply_box = gr.Textbox(label="Reply to the customer (Enter sends)")
                with gr.Column(scale=2):
                    timeline = gr.LinePlot(x="turn", y="score", color="emotion", title="Customer emotion by turn",
                                           y_lim=[0, 1], height=260)
                    why = gr.HighlightedText(label="Why? (click a message below)", combine_adjacent=False)
            table = gr.Dataframe(label="Customer messages: intent, emotion (click a row for 'why?')",
                                 interactive=False, wrap=True)
            with gr.Row():
                message_id = gr.Number(label="Message id", precision=0)
                intent = gr.Dropdown(label="Correct intent", choices=[], allow_custom_value=False)
                correct_button = gr.Button("Save correction")
            correction_status = gr.Markdown()
        login_button.click(login, [name, password], [token, login_status, desk, queue], api_name="login").then(
            lambda: gr.Dropdown(choices=intent_choices()), None, intent)
        gr.Timer(3.0).tick(refresh_queue, token, queue, api_name="refresh_queue", show_progress="hidden")
        queue.select(pick_conversation, [token, queue], selected).then(
            open_conversation, [token, selected], [transcript, table, timeline])
        open_button.click(open_conversation, [token, selected], [transcript, table, timeline],
                          api_name="open_conversation")
        reply_box.submit(agent_reply, [token, selected, reply_box], [reply_box, transcript, table, timeline, queue],
                         api_name="agent_reply")
        take_button.click(take_over, [token, selected], queue, api_name="take_over")
        resolve_button.click(resolve, [token, selected], queue, api_name="resolve")
        table.select(explain_message, [token, table], [why, message_id])
        correct_button.click(correct_label, [token, message_id, intent], correction_status, api_name="correct_label")

    with gr.Tab("Insights"):
        with gr.Row():
            days = gr.Slider(1, 90, value=30, step=1, label="Days")
            refresh = gr.Button("Refresh")
        with gr.Row():
            volume = gr.BarPlot(x="intent", y="messages", title="Messages by intent", x_label_angle=-45)
            sentiment = gr.LinePlot(x="time", y="messages", color="sentiment", title="Sentiment over time")
        with gr.Row():
            reasons = gr.BarPlot(x="reason", y="handoffs", title="Handoffs by reason")
            rate = gr.Markdown()
        with gr.Row():
            top_oos = gr.Dataframe(label="Top out-of-scope messages (candidates for new intents)")
            at_risk = gr.Dataframe(label="At-risk customers (cancel/complaint intents, negative sentiment)")
        refresh.click(show_insights, days, [volume, sentiment, reasons, rate, top_oos, at_risk], api_name="insights")

    with gr.Tab("Model"):
        model_info = gr.Markdown()
        confused = gr.Dataframe(label="Most confused intent pairs (validation)")
        gr.Button("Refresh").click(show_model, None, [model_info, confused], api_name="model")


def build_app():
    """The one ASGI app: REST API and widget routes first, the Gradio UI mounted at /."""
    api = create_api(helpline, lambda: settings.agent_token)
    return gr.mount_gradio_app(api, demo, path="/")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Helpline app (UI, REST API and widget).")
    parser.add_argument("--model", default=settings.model_dir, help="model directory (env HELPLINE_MODEL)")
    parser.add_argument("--db", default=settings.db, help="SQLAlchemy URL (env HELPLINE_DB)")
    parser.add_argument("--agent-token", default=settings.agent_token, help="API token (env HELPLINE_AGENT_TOKEN)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                        help="port (env GRADIO_SERVER_PORT; default 7860)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (env GRADIO_SERVER_NAME; 0.0.0.0 for all)")
    args = parser.parse_args(argv)
    settings.model_dir, settings.db, settings.agent_token = args.model, args.db, args.agent_token
    ensure_model(settings)
    try:
        helpline()
    except ValueError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
    import uvicorn

    print(f"Helpline on http://{args.host}:{args.port} (API docs /docs, widget demo /widget-demo)", flush=True)
    uvicorn.run(build_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
