"""The engines of `python -m bot analyze` (this process, a local process pool, a Ray Data job) write the same
file, and the batch plan chooses how the batch path runs on a CPU."""
from __future__ import annotations

import json
import os

import pytest

from bot.model.batch_plan import BatchPlan, plan_for
from tests.conftest import run_bot


def transcripts(path, conversations: int = 700) -> str:
    """More conversations than one chunk (512), so the engines hand out several; some have no customer turn."""
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(conversations):
            messages = [{"role": "agent", "text": "Hello, how can I help?"}]
            if i % 50:
                messages += [{"role": "customer", "text": f"where is my order {i % 13}", "time": 1000 + i},
                             {"role": "bot", "text": "Sorry, I didn't understand."},
                             {"role": "customer", "text": "still nothing" + "??" * (i % 4), "time": 1100 + i}]
            handle.write(json.dumps({"id": f"c{i}", "messages": messages}) + "\n")
    return str(path)


def analyze(model, source, out, *flags):
    result = run_bot("analyze", "--model", model, "--transcripts", source, "--output", str(out), *flags)
    assert result.returncode == 0, result.stderr
    return out.read_bytes()


def test_a_process_pool_writes_what_one_process_writes(tiny_model_dir, tmp_path):
    source = transcripts(tmp_path / "t.jsonl")
    one = analyze(tiny_model_dir, source, tmp_path / "one.jsonl", "--processes", "1")
    pool = analyze(tiny_model_dir, source, tmp_path / "pool.jsonl", "--processes", "2")
    assert one == pool
    rows = [json.loads(line) for line in one.splitlines()]
    assert len(rows) == 2 * (700 - 14) and rows[0]["conversation_id"] == "c1" and rows[-1]["conversation_id"] == "c699"


def test_a_ray_job_on_local_ray_writes_what_one_process_writes(tiny_model_dir, tmp_path):
    if not os.environ.get("HELPLINE_REQUIRE_RAY"):
        pytest.importorskip("ray", reason="Ray is the optional extra of requirements-ray.txt")
    source = transcripts(tmp_path / "t.jsonl")
    one = analyze(tiny_model_dir, source, tmp_path / "one.jsonl", "--processes", "1")
    on_ray = analyze(tiny_model_dir, source, tmp_path / "ray.jsonl", "--ray", "--ray-workers", "2")
    assert one == on_ray


def test_a_ray_job_hands_over_windows_of_chunks_in_order_without_deprecated_paths(tiny_model_dir, tmp_path,
                                                                                 monkeypatch):
    import warnings

    if not os.environ.get("HELPLINE_REQUIRE_RAY"):
        pytest.importorskip("ray", reason="Ray is the optional extra of requirements-ray.txt")
    from bot.batch import engines
    from bot.batch.analyze import analyzed
    from bot.batch.transcripts import read_transcripts
    from bot.model.helpline_model import HelplineModel

    conversations = read_transcripts(transcripts(tmp_path / "t.jsonl"))     # two chunks: 512 + 188
    monkeypatch.setattr(engines, "RAY_WINDOW", 1)                              # so two windows
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*local://.*")              # Ray's deprecated path scheme
        on_ray = list(engines.ray_job(tiny_model_dir, workers=1)(conversations))
    here = list(analyzed(HelplineModel.from_pretrained(tiny_model_dir), conversations))
    assert [(c["id"], rows) for c, rows in on_ray] == [(c["id"], rows) for c, rows in here]


def test_the_plan_runs_a_single_threaded_process_per_core_on_small_batches():
    assert plan_for(2) == BatchPlan(processes=2, threads=1, batch_size=16)
    assert plan_for(1) == BatchPlan(processes=1, threads=1, batch_size=16)
    assert plan_for(0).processes == 1


def test_flags_override_the_plan_and_bad_values_are_named():
    plan = BatchPlan(processes=2, threads=1, batch_size=64)
    assert plan.override(processes=1, batch_size=None) == BatchPlan(processes=1, threads=1, batch_size=64)
    assert BatchPlan(processes=1, threads=None).override(processes=4).threads == 1   # processes share the cores
    with pytest.raises(ValueError, match="--batch-size must be a whole number of at least 1"):
        plan.override(batch_size=0)
    with pytest.raises(ValueError, match="--processes must be"):
        BatchPlan(processes=-1)


def test_a_bad_flag_is_an_error_message_not_a_traceback(tiny_model_dir, tmp_path):
    source = transcripts(tmp_path / "t.jsonl", 3)
    result = run_bot("analyze", "--model", tiny_model_dir, "--transcripts", source, "--output",
                     str(tmp_path / "o.jsonl"), "--processes", "0")
    assert result.returncode == 2 and "--processes must be a whole number of at least 1" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o.jsonl").exists()
