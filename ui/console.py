"""The agents' console tab (in the agent app, behind the login): the live triage queue, a conversation with its
handoff summary, analysis and "why?", suggested and canned replies, take over, resolve, intent corrections,
editing the canned responses, and the review queue of messages the model is least sure about."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from bot.assist.live import canned_path
from intents import CatalogueError
from intents.audit import fingerprint
from intents.canned import save_canned
from ui import console_data as console

from . import logged_in, require_agent

SUGGESTIONS = 3   # suggested replies shown under the reply box


def row_of(evt: gr.SelectData) -> int:
    return evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index


def build(ctx, blocks: gr.Blocks):
    """Adds the tab; fills it when ``blocks`` (the agent app) loads. Every handler reads the agent from the
    request's session cookie (gr.Request), so no token travels through the page."""

    def agent(request: gr.Request | None):
        return require_agent(ctx, request)

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
        return ctx.helpline().desk.known_intents()

    def review_table() -> pd.DataFrame:
        rows = [[m.id, m.text[:100], m.intent, margin] for m, margin in ctx.helpline().store.review_queue(30)]
        return pd.DataFrame(rows, columns=["message id", "text", "predicted", "margin"])

    def open_desk(request: gr.Request):
        """The page opened: who is logged in, the queue, the intents to correct to, the review queue."""
        found = agent(request)
        choices = intent_choices()
        return (f"Logged in as **{found.name}** ({found.role}).", styled_queue(), gr.Dropdown(choices=choices),
                gr.Dropdown(choices=choices), review_table())

    def refresh_queue(request: gr.Request):
        # a timer: not the agent's activity (an unattended console idles out), and quiet once logged out
        if logged_in(ctx, request, touch=False) is None:
            return gr.skip()
        return styled_queue()

    def pick(queue, evt: gr.SelectData, request: gr.Request):
        agent(request)
        return queue.iloc[row_of(evt)]["conversation"]

    def open_conversation(conversation_id: str, request: gr.Request):
        """The transcript, its analysis and emotion plot, the handoff summary and the suggested replies."""
        agent(request)
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
        history, table, timeline = shown
        # whole turns on the x axis: at least 1-5, so two turns do not tick at 1.2, 1.4, ...
        turns = gr.LinePlot(value=timeline, x_lim=[1, max(5, int(timeline["turn"].max()) if len(timeline) else 1)],
                            x_axis_format="d")
        return (history, table, turns, summary, *buttons)

    def explain_row(table, evt: gr.SelectData, request: gr.Request):
        agent(request)
        row = table.iloc[row_of(evt)]
        return console.why(ctx.helpline(), row["text"]), int(row["message id"])

    def act(request: gr.Request | None, conversation_id: str, action: str, text: str = ""):
        who = agent(request)
        desk = ctx.helpline().desk
        try:
            if action == "reply":
                desk.reply(conversation_id, text, who.id)
            elif action == "take_over":
                desk.take_over(conversation_id, who.id)
            else:
                desk.resolve(conversation_id)
        except KeyError:
            raise gr.Error(f"No conversation {conversation_id}.") from None
        except ValueError as exc:
            raise gr.Error(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
        return styled_queue()

    def reply(conversation_id, text, request: gr.Request):
        queue = act(request, conversation_id, "reply", text)
        return ("", *open_conversation(conversation_id, request), queue)

    def take_over(conversation_id, request: gr.Request):
        return act(request, conversation_id, "take_over")

    def resolve(conversation_id, request: gr.Request):
        return act(request, conversation_id, "resolve")

    def correct(message_id, intent: str, request: gr.Request):
        who = agent(request)
        if not message_id or not intent:
            raise gr.Error("Pick a customer message (click its row) and an intent.")
        try:
            c = ctx.helpline().desk.correct_label(int(message_id), intent, who.id)
        except KeyError:
            raise gr.Error(f"No customer message {message_id}.") from None
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        return (f"Message {int(message_id)}: `{c.previous_intent}` → `{c.intent}` (stored for retraining).",
                review_table())

    def canned_filter(conversation_id: str, typed: str, request: gr.Request):
        """"/" and part of a title in the reply box: the matching canned responses to pick from."""
        if not logged_in(ctx, request):
            return gr.skip()
        if not (typed or "").startswith("/"):
            return gr.update(visible=False)
        try:
            found = ctx.helpline().suggestions.canned_for((conversation_id or "").strip() or None, typed)
        except (ValueError, CatalogueError) as exc:
            raise gr.Error(str(exc)) from None
        return gr.update(choices=found, value=None, visible=True,
                         label=f"Canned responses matching {typed!r}: {len(found)}")

    def canned_load(request: gr.Request):
        """The file's text, and its fingerprint: a save refuses to overwrite a file changed since."""
        agent(request)
        path = canned_path()
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        return text, fingerprint(text)

    def canned_save(text: str, loaded: str | None, request: gr.Request):
        who = agent(request)
        if not loaded:
            raise gr.Error("Load the canned responses first, then edit and save.")
        try:
            saved = save_canned(canned_path(), text or "", who=who.name, expected=loaded)
        except CatalogueError as exc:
            raise gr.Error(str(exc)) from None
        return f"Saved {len(saved)} canned responses.", fingerprint(text or "")

    def pick_review(table, evt: gr.SelectData, request: gr.Request):
        agent(request)
        return int(table.iloc[row_of(evt)]["message id"])

    with gr.Tab("Agent console"):
        with gr.Row():
            status = gr.Markdown(elem_id="logged-in-as")
            gr.HTML('<a href="/logout" id="logout">Log out</a>', elem_id="logout-link")
        with gr.Column():
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
                canned_loaded = gr.State(None)   # the fingerprint of the text loaded
                with gr.Row():
                    canned_load_button = gr.Button("Load")
                    canned_save_button = gr.Button("Save", variant="primary")
                canned_status = gr.Markdown()
            with gr.Accordion("Review queue: messages the model is least sure about", open=False):
                review = gr.Dataframe(interactive=False, wrap=True,
                                      headers=["message id", "text", "predicted", "margin"])
                with gr.Row():
                    review_id = gr.Number(label="Message id", precision=0)
                    review_intent = gr.Dropdown(label="Intent", choices=[])
                    review_button = gr.Button("Label")
                review_status = gr.Markdown()

        blocks.load(open_desk, None, [status, queue, intent, review_intent, review], api_name="open_desk")
        gr.Timer(3.0).tick(refresh_queue, None, queue, api_name="refresh_queue", show_progress="hidden")
        opened = [transcript, table, timeline, summary, *suggestions]
        queue.select(pick, queue, selected).then(open_conversation, selected, opened)
        open_button.click(open_conversation, selected, opened, api_name="open_conversation")
        reply_box.submit(reply, [selected, reply_box], [reply_box, *opened, queue], api_name="agent_reply")
        for button in suggestions:   # one click puts the suggestion in the reply box, to edit before sending;
            # in the browser only: no endpoint that echoes its input
            button.click(None, button, reply_box, js="(text) => text", api_visibility="private")
        take_button.click(take_over, selected, queue, api_name="take_over")
        resolve_button.click(resolve, selected, queue, api_name="resolve")
        reply_box.input(canned_filter, [selected, reply_box], canned_pick, show_progress="hidden",
                        api_visibility="private")
        canned_pick.select(None, canned_pick, reply_box, js="(text) => text", api_visibility="private")
        canned_load_button.click(canned_load, None, [canned_text, canned_loaded], api_name="canned_load")
        canned_save_button.click(canned_save, [canned_text, canned_loaded], [canned_status, canned_loaded],
                                 api_name="canned_save")
        table.select(explain_row, table, [why, message_id])
        correct_button.click(correct, [message_id, intent], [correction_status, review], api_name="correct_label")
        review.select(pick_review, review, review_id)
        review_button.click(correct, [review_id, review_intent], [review_status, review], api_name="review_label")
