"""The agents' console tab: login, the live triage queue, a conversation with its handoff summary, analysis and
"why?", suggested and canned replies, take over, resolve, intent corrections, editing the canned responses, and
the review queue of messages the model is least sure about."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from bot.assist.live import canned_path
from bot.serving.login import LoginFailed, checked_login
from bot.serving.ratelimit import RateLimited
from intents import CatalogueError
from intents.canned import save_canned
from ui import console_data as console

from . import client_address, logged_in, require_agent


SUGGESTIONS = 3   # suggested replies shown under the reply box


def row_of(evt: gr.SelectData) -> int:
    return evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index


def build(ctx):
    """Adds the tab; returns the login token's gr.State (other tabs need a logged-in agent too)."""

    def agent(token: str | None):
        return require_agent(ctx, token)

    def styled_queue():
        """The queue with its sentiment and frustration badges coloured, and its size (or that it is empty) in the
        label, so an empty table says so in words."""
        table = console.queue_table(ctx.helpline())
        label = (f"Queue: {len(table)} conversation{'s' if len(table) != 1 else ''} (most urgent first; click a row "
                 "to open it)" if len(table) else "Queue: nobody is waiting for a person right now")
        badges = ["sentiment", "frustration", "satisfaction risk"]
        return gr.Dataframe(value=table.style.map(console.badge_colour, subset=badges),
                            label=label)

    def intent_choices() -> list[str]:
        service = ctx.helpline()
        return sorted(set(service.classifier.intent_labels) | set(service.catalogue.intents))

    def review_table() -> pd.DataFrame:
        rows = [[m.id, m.text[:100], m.intent, margin] for m, margin in ctx.helpline().store.review_queue(30)]
        return pd.DataFrame(rows, columns=["message id", "text", "predicted", "margin"])

    def login(name: str, password: str, request: gr.Request = None):
        try:
            found, token = checked_login(ctx.helpline().store, ctx.limits(), (name or "").strip()[:80],
                                         (password or "")[:200], client_address(request))
        except LoginFailed:
            raise gr.Error("Wrong name or password.") from None
        except RateLimited as exc:
            raise gr.Error(str(exc)) from None
        choices = intent_choices()
        return (token, f"Logged in as **{found.name}** ({found.role}).", gr.Column(visible=True),
                styled_queue(), gr.Dropdown(choices=choices), gr.Dropdown(choices=choices),
                review_table())

    def logout(token: str | None):
        ctx.helpline().store.logout(token if isinstance(token, str) else None)
        return None, "Logged out.", gr.Column(visible=False), None, [], None

    def refresh_queue(token: str | None):
        if not token:
            return gr.skip()
        agent(token)
        return styled_queue()

    def pick(token: str | None, queue, evt: gr.SelectData):
        agent(token)
        return queue.iloc[row_of(evt)]["conversation"]

    def open_conversation(token: str | None, conversation_id: str):
        """The transcript, its analysis and emotion plot, the handoff summary and the suggested replies."""
        agent(token)
        if not conversation_id:
            raise gr.Error("Pick a conversation in the queue.")
        service = ctx.helpline()
        try:
            shown = console.transcript(service, conversation_id.strip())
            summary = console.handoff_summary_text(service, conversation_id.strip())
            suggested = service.suggestions.for_conversation(conversation_id.strip(), k=SUGGESTIONS)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        buttons = [gr.update(value=text, visible=True) for text in suggested]
        buttons += [gr.update(value="", visible=False)] * (SUGGESTIONS - len(suggested))
        return (*shown, summary, *buttons)

    def explain_row(token: str | None, table, evt: gr.SelectData):
        agent(token)
        row = table.iloc[row_of(evt)]
        return console.why(ctx.helpline(), row["text"]), int(row["message id"])

    def act(token: str | None, conversation_id: str, action: str, text: str = ""):
        who = agent(token)
        store = ctx.helpline().store
        try:
            if action == "reply":
                if not (text or "").strip():
                    raise gr.Error("Write a reply first.")
                store.agent_reply(conversation_id.strip(), text.strip(), who.id)
            elif action == "take_over":
                store.take_over(conversation_id.strip(), who.id)
            else:
                store.resolve(conversation_id.strip())
        except KeyError:
            raise gr.Error(f"No conversation {conversation_id}.") from None
        return styled_queue()

    def reply(token, conversation_id, text):
        queue = act(token, conversation_id, "reply", text)
        return ("", *open_conversation(token, conversation_id), queue)

    def correct(token: str | None, message_id, intent: str):
        who = agent(token)
        if not message_id or not intent:
            raise gr.Error("Pick a customer message (click its row) and an intent.")
        try:
            c = ctx.helpline().store.correct_label(int(message_id), intent, who.id)
        except KeyError:
            raise gr.Error(f"No customer message {message_id}.") from None
        return f"Message {int(message_id)}: `{c.previous_intent}` → `{c.intent}` (stored for retraining).", review_table()

    def canned_filter(token: str | None, conversation_id: str, typed: str):
        """"/" and part of a title in the reply box: the matching canned responses to pick from."""
        if not logged_in(ctx, token):
            return gr.skip()
        if not (typed or "").startswith("/"):
            return gr.update(visible=False)
        try:
            found = ctx.helpline().suggestions.canned_for((conversation_id or "").strip() or None, typed)
        except (ValueError, CatalogueError) as exc:
            raise gr.Error(str(exc)) from None
        return gr.update(choices=found, value=None, visible=True,
                         label=f"Canned responses matching {typed!r}: {len(found)}")

    def canned_load(token: str | None):
        agent(token)
        path = canned_path()
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def canned_save(token: str | None, text: str):
        agent(token)
        try:
            saved = save_canned(canned_path(), text or "")
        except CatalogueError as exc:
            raise gr.Error(str(exc)) from None
        return f"Saved {len(saved)} canned responses."

    def pick_review(token: str | None, table, evt: gr.SelectData):
        agent(token)
        return int(table.iloc[row_of(evt)]["message id"])

    with gr.Tab("Agent console"):
        token = gr.State(None)
        with gr.Row():
            name = gr.Textbox(label="Agent name", scale=2)
            password = gr.Textbox(label="Password", type="password", scale=2)
            login_button = gr.Button("Log in", scale=1)
            logout_button = gr.Button("Log out", scale=1)
        status = gr.Markdown("Agents log in with the account made by `python -m bot agents add NAME`.")
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
                    # customer text is shown as typed: no Markdown, so no remote image or live link in it
                    summary = gr.Textbox(label="Handoff summary", lines=4, interactive=False)
                    transcript = gr.Chatbot(label="Conversation", height=360, render_markdown=False,
                                            sanitize_html=True)
                    reply_box = gr.Textbox(label="Reply to the customer (Enter sends)",
                                           info="A suggestion below fills it; / and a title finds a canned response")
                    with gr.Row():
                        suggestions = [gr.Button(visible=False, size="sm", elem_classes="suggestion")
                                       for _ in range(SUGGESTIONS)]
                    canned_pick = gr.Dropdown(label="Canned responses", choices=[], visible=False,
                                              elem_id="canned-pick")
                with gr.Column(scale=2):
                    timeline = gr.LinePlot(x="turn", y="score", color="emotion", title="Customer emotion by turn",
                                           y_lim=[0, 1], height=260)
                    why = gr.HighlightedText(label="Why? (click a message below)", combine_adjacent=False)
            table = gr.Dataframe(label="Customer messages: intent, emotion (click a row for 'why?')",
                                 headers=["message id", "turn", "text", "intent", "confidence", "sentiment",
                                          "frustration", "emotions"],
                                 interactive=False, wrap=True)
            with gr.Row():
                message_id = gr.Number(label="Message id", precision=0)
                intent = gr.Dropdown(label="Correct intent", choices=[])
                correct_button = gr.Button("Save correction")
            correction_status = gr.Markdown()
            with gr.Accordion("Canned responses: edit (YAML, checked before it is saved)", open=False):
                canned_text = gr.Code(language="yaml", label="intents/canned.yaml")
                with gr.Row():
                    canned_load_button = gr.Button("Load")
                    canned_save_button = gr.Button("Save", variant="primary")
                canned_status = gr.Markdown()
            with gr.Accordion("Review queue: messages the model is least sure about", open=False):
                review = gr.Dataframe(interactive=False, wrap=True, headers=["message id", "text", "predicted", "margin"])
                with gr.Row():
                    review_id = gr.Number(label="Message id", precision=0)
                    review_intent = gr.Dropdown(label="Intent", choices=[])
                    review_button = gr.Button("Label")
                review_status = gr.Markdown()

        login_button.click(login, [name, password], [token, status, desk, queue, intent, review_intent, review],
                           api_name="login")
        logout_button.click(logout, token, [token, status, desk, queue, transcript, table], api_name="logout")
        gr.Timer(3.0).tick(refresh_queue, token, queue, api_name="refresh_queue", show_progress="hidden")
        opened = [transcript, table, timeline, summary, *suggestions]
        queue.select(pick, [token, queue], selected).then(open_conversation, [token, selected], opened)
        open_button.click(open_conversation, [token, selected], opened, api_name="open_conversation")
        reply_box.submit(reply, [token, selected, reply_box], [reply_box, *opened, queue], api_name="agent_reply")
        for button in suggestions:   # one click puts the suggestion in the reply box, to edit before sending;
            # in the browser only: no endpoint that echoes its input
            button.click(None, button, reply_box, js="(text) => text", api_visibility="private")
        take_button.click(lambda t, c: act(t, c, "take_over"), [token, selected], queue, api_name="take_over")
        resolve_button.click(lambda t, c: act(t, c, "resolve"), [token, selected], queue, api_name="resolve")
        reply_box.input(canned_filter, [token, selected, reply_box], canned_pick, show_progress="hidden",
                        api_visibility="private")
        canned_pick.select(None, canned_pick, reply_box, js="(text) => text", api_visibility="private")
        canned_load_button.click(canned_load, token, canned_text, api_name="canned_load")
        canned_save_button.click(canned_save, [token, canned_text], canned_status, api_name="canned_save")
        table.select(explain_row, [token, table], [why, message_id])
        correct_button.click(correct, [token, message_id, intent], [correction_status, review],
                             api_name="correct_label")
        review.select(pick_review, [token, review], review_id)
        review_button.click(correct, [token, review_id, review_intent], [review_status, review],
                            api_name="review_label")
    return token
