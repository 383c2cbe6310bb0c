"""The customer's chat tab: replies, quick replies, the handoff state, and agent replies arriving live."""
from __future__ import annotations

import gradio as gr

from bot.conversation.service import Turn
from bot.conversation.state import Status
from bot.serving.ratelimit import RateLimited
from bot.store.database import StoreUnavailable, is_unavailable
from bot.store.ratings import AlreadyRated

from . import client_address

RATINGS = ["1 very unhappy", "2 unhappy", "3 okay", "4 happy", "5 very happy"]
HANDOFF_BANNER = ("### 🧑‍💼 You are now talking to a person\n"
                  "A member of our team has this conversation and will reply here.")


def analysis(turn: Turn) -> str:
    return (f"**Intent:** `{turn.intent}` ({turn.confidence:.0%} confident)  \n"
            f"**Action:** {turn.action}" + (f" ({turn.handoff_reason})" if turn.handoff else "") + "  \n"
            f"**Sentiment:** {turn.sentiment} · **Frustration:** {turn.frustration:.2f}  \n"
            f"**Emotions detected:** {', '.join(turn.emotions) or 'none'}  \n"
            f"**Triage priority:** {turn.priority:.0f}")


def build(ctx) -> None:
    def agent_messages(conversation_id: str | None, after: int) -> tuple[list[dict], int]:
        if not conversation_id:
            return [], after
        new = ctx.helpline().store.messages(conversation_id, after_id=after)
        shown = [{"role": "assistant", "content": f"🧑‍💼 {m.text}"} for m in new if m.role == "agent"]
        return shown, max([after] + [m.id for m in new])

    def chat(message: str, history: list[dict], conversation_id: str | None, last_seen: int,
             request: gr.Request = None):
        address = client_address(request)
        try:
            ctx.limits().chat(address, conversation_id)
            turn = ctx.helpline().handle(message or "", conversation_id, source=ctx.helpline().store.source_of(address))
        except (ValueError, RateLimited) as exc:
            raise gr.Error(str(exc)) from None
        except Exception as exc:
            if is_unavailable(exc):
                raise gr.Error(str(StoreUnavailable())) from None
            raise
        earlier, _ = agent_messages(turn.conversation_id, last_seen or 0)  # agent replies not yet shown
        history = (history or []) + earlier + [{"role": "user", "content": message.strip()}]
        if turn.reply:
            history.append({"role": "assistant", "content": turn.reply})
        seen = max(turn.message_id, turn.reply_message_id or 0)
        return ("", history, analysis(turn), turn.emotions or {"neutral": 0.0}, turn.conversation_id, seen,
                gr.Radio(choices=turn.quick_replies, value=None, visible=bool(turn.quick_replies)),
                gr.Markdown(HANDOFF_BANNER, visible=turn.handoff),
                ask_csat(ctx.helpline().store.conversation(turn.conversation_id) if turn.ask_csat else None))

    def ask_csat(found) -> gr.Column:
        """Show "How did we do?" for an ended conversation (None: not ended), unless it was rated already (never
        asked twice)."""
        return gr.Column(visible=found is not None and found.csat is None)

    def rate(choice: str | None, comment: str, conversation_id: str | None):
        if not choice or not conversation_id:
            raise gr.Error("Pick a rating from 1 to 5.")
        try:
            ctx.helpline().store.rate(conversation_id, RATINGS.index(choice) + 1, comment or "")
        except AlreadyRated:
            pass   # rated from another tab: the thanks below is still true
        except (ValueError, KeyError) as exc:
            raise gr.Error(str(exc)) from None
        return gr.Column(visible=False), gr.Markdown("Thank you for your rating.", visible=True)

    def quick_reply(choice: str | None, history, conversation_id, last_seen, request: gr.Request = None):
        if not choice:
            raise gr.Error("Pick one of the options.")
        return chat(choice, history, conversation_id, last_seen, request)

    def poll(conversation_id: str | None, history: list[dict], last_seen: int):
        """Agent replies arrive live: every few seconds, append what agents wrote since the last message shown
        (and ask for a rating once an agent has resolved the conversation)."""
        shown, seen = agent_messages(conversation_id, last_seen or 0)
        found = ctx.helpline().store.conversation(conversation_id) if conversation_id else None
        csat = ask_csat(found) if found is not None and found.status == Status.RESOLVED else gr.skip()
        if not shown:
            return gr.skip(), seen, csat
        return (history or []) + shown, seen, csat

    with gr.Tab("Chat"):
        conversation = gr.State(None)
        last_seen = gr.State(0)
        with gr.Row():
            with gr.Column(scale=3):
                banner = gr.Markdown(HANDOFF_BANNER, visible=False)
                # what agents type is shown as typed: no Markdown, so no remote image or link in it
                chatbot = gr.Chatbot(label="Chat", height=440, render_markdown=False, sanitize_html=True)
                quick = gr.Radio(label="Did you mean", choices=[], visible=False)
                box = gr.Textbox(placeholder="Ask about an order, a delivery, a payment, your account or "
                                 "subscription, and press Enter", show_label=False, max_lines=4)
                with gr.Column(visible=False) as csat:
                    rating = gr.Radio(label="How did we do?", choices=RATINGS, value=None)
                    comment = gr.Textbox(label="Anything to add? (optional; type it before you pick a rating)",
                                         max_lines=3, max_length=1000)
                thanks = gr.Markdown(visible=False)
            with gr.Column(scale=2):
                details = gr.Markdown("*Send a message to see how Helpline reads it.*")
                emotions = gr.Label(label="Emotion", num_top_classes=5)
        outputs = [box, chatbot, details, emotions, conversation, last_seen, quick, banner, csat]
        box.submit(chat, [box, chatbot, conversation, last_seen], outputs, api_name="chat")
        quick.input(quick_reply, [quick, chatbot, conversation, last_seen], outputs, api_name="quick_reply")
        rating.input(rate, [rating, comment, conversation], [csat, thanks], api_name="rate")
        gr.Timer(2.0).tick(poll, [conversation, chatbot, last_seen], [chatbot, last_seen, csat], api_name="poll_chat",
                           show_progress="hidden")
