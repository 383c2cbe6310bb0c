"""The Model tab: the serving model, and with a registry the whole loop: retrain from stored conversations in
the background (with progress), compare a candidate with the serving model, promote, roll back, history."""
from __future__ import annotations

import gradio as gr

from bot.registry import jobs
from bot.registry.versions import SHOWN_METRICS, Registry, RegistryError, is_registry
from ui import console_data as console
from ui import model_data as model_page

from . import logged_in, require_agent

NO_REGISTRY = ("`HELPLINE_MODEL` is a single model directory. To retrain, compare and promote versions here, make "
               "a registry: `python -m finetune register --model DIR --registry models/registry --intent-test "
               "FILE` and start the app with `HELPLINE_MODEL=models/registry`.")


def progress_bar(percent: int) -> str:
    """The retrain job's progress as a bar (a slider looked like something to drag)."""
    return (f'<label style="display:block">Retrain progress: {percent}%'
            f'<progress max="100" value="{percent}" style="width:100%;height:1.2em"></progress></label>')


def build(ctx) -> None:
    def registry() -> Registry:
        if not is_registry(ctx.settings.model_dir):
            raise gr.Error(NO_REGISTRY)
        return Registry(ctx.settings.model_dir)

    def agent(request: gr.Request | None, admin: bool = False):
        return require_agent(ctx, request, admin=admin)

    def show(request: gr.Request):
        agent(request)
        summary, confused = console.model_summary(ctx.helpline())
        watcher = ctx.watcher()
        if watcher is not None and watcher.last_error:
            summary += f"\n\n⚠️ **A new model failed to load; the previous one keeps serving:** {watcher.last_error}"
        elif watcher is not None and watcher.last_reload:
            summary += f"\n\n{watcher.last_reload}"
        if not is_registry(ctx.settings.model_dir):
            return summary + "\n\n" + NO_REGISTRY, confused, None, None, gr.Dropdown(choices=[])
        r = Registry(ctx.settings.model_dir)
        versions = sorted(r.versions(), key=lambda v: -int(v[1:]))
        return (summary, confused, model_page.history_table(r), model_page.events_table(r),
                gr.Dropdown(choices=versions, value=versions[0] if versions else None))

    def retrain(request: gr.Request):
        who = agent(request, admin=True)
        try:
            job = jobs.start_retrain(str(registry().root), ctx.settings.db, ctx.settings.catalogue, started_by=who.name)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        return f"Retrain job {job} started."

    def job_status(request: gr.Request):
        if logged_in(ctx, request, touch=False) is None:
            return gr.skip(), gr.skip()  # a timer: not activity, and quietly nothing once logged out
        if not is_registry(ctx.settings.model_dir):
            return gr.skip(), gr.skip()
        state = jobs.status(ctx.settings.model_dir)
        if state is None:
            return "No retrain job yet.", progress_bar(0)
        progress = state.get("progress") or {}
        fraction = progress.get("step", 0) / max(1, progress.get("total", 1))
        text = f"Job {state['id']} ({state.get('started_by', '')}): **{state['state']}**, {state.get('message', '')}"
        if state.get("log"):
            text += f"\n```\n{state['log'][-800:]}\n```"
        return text, progress_bar(round(100 * (1.0 if state["state"] == "done" else fraction)))

    def compare(version, request: gr.Request):
        agent(request)
        if not version:
            raise gr.Error("Pick a version.")
        try:
            return model_page.comparison(registry(), version)
        except (ValueError, RegistryError) as exc:
            raise gr.Error(str(exc)) from None

    def promote(version, force, reason, request: gr.Request):
        who = agent(request, admin=True)
        try:
            event = registry().promote(version, force=bool(force), reason=reason or "", by=who.name,
                                       validate=ctx.settings.load_classifier)
        except RegistryError as exc:
            raise gr.Error(str(exc)) from None
        return f"{version} now serves (was {event['previous']}); running processes switch within seconds."

    def rollback(request: gr.Request):
        who = agent(request, admin=True)
        try:
            event = registry().rollback(by=who.name)
        except RegistryError as exc:
            raise gr.Error(str(exc)) from None
        return f"Rolled back: {event['version']} serves again (was {event['previous']})."

    with gr.Tab("Model") as tab:
        info = gr.Markdown("The serving model, its versions and retraining.")
        confused = gr.Dataframe(label="Most confused intent pairs (validation)", headers=["true", "predicted", "count"])
        refresh = gr.Button("Refresh")
        with gr.Accordion("Versions, retraining and promotion", open=True):
            history = gr.Dataframe(label="Versions (▶ serving)", interactive=False,
                                   headers=["version", "created", *SHOWN_METRICS, "produced by"])
            with gr.Row():
                retrain_button = gr.Button("Retrain from stored conversations")
                progress = gr.HTML(progress_bar(0))
            job = gr.Markdown()
            with gr.Row():
                version = gr.Dropdown(label="Candidate version", choices=[])
                compare_button = gr.Button("Compare with serving")
            comparison = gr.Markdown()
            with gr.Row():
                deltas = gr.Dataframe(label="Per-intent F1: candidate vs serving", interactive=False,
                                      headers=["intent", "candidate F1", "serving F1", "change"])
                confusion = gr.Dataframe(label="Confusion changes", interactive=False,
                                         headers=["true", "predicted", "candidate", "serving", "change"])
            with gr.Row():
                force = gr.Checkbox(label="Force (promote despite regressions)")
                reason = gr.Textbox(label="Reason (required when forcing)")
                promote_button = gr.Button("Promote", variant="primary")
                rollback_button = gr.Button("Roll back", variant="stop")
            outcome = gr.Markdown()
            events = gr.Dataframe(label="History", interactive=False,
                                  headers=["when", "action", "version", "previous", "by", "reason"])
        outputs = [info, confused, history, events, version]
        refresh.click(show, None, outputs, api_name="model")
        tab.select(show, None, outputs, show_progress="hidden")   # the page fills itself when the tab is opened
        retrain_button.click(retrain, None, job, api_name="retrain")
        gr.Timer(3.0).tick(job_status, None, [job, progress], show_progress="hidden", api_name="job_status")
        compare_button.click(compare, version, [comparison, deltas, confusion], api_name="compare")
        promote_button.click(promote, [version, force, reason], outcome, api_name="promote").then(show, None, outputs)
        rollback_button.click(rollback, None, outcome, api_name="rollback").then(show, None, outputs)
