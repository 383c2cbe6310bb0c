"""`python -m bot analyze --report DIR` and `--resume`: the per-conversation CSV, a self-contained HTML report,
and an interrupted run continued without duplicated lines."""
import csv
import json
import re
import subprocess
import sys

from tests.conftest import ROOT, run_bot


def export(path, n=40):
    conversations = []
    for i in range(n):
        messages = [{"role": "customer", "text": f"where is my order {i}", "time": 1000 + i},
                    {"role": "bot", "text": "Sorry, I didn't understand that.", "time": 1010 + i}]
        if i % 4 == 0:   # a quarter reach a person after the bot
            messages += [{"role": "customer", "text": "still nothing?? third time I ask"},
                         {"role": "agent", "text": "Let me check that for you."}]
        conversations.append({"id": f"c{i}", "messages": messages, **({"csat": 2} if i == 0 else {})})
    conversations.append({"id": "silent", "messages": [{"role": "agent", "text": "Hello?"}]})
    path.write_text("".join(json.dumps(c) + "\n" for c in conversations))
    return conversations


def test_report_has_a_row_per_conversation_and_a_self_contained_page(tiny_model_dir, tmp_path):
    export(tmp_path / "export.jsonl")
    result = run_bot("analyze", "--model", tiny_model_dir, "--transcripts", str(tmp_path / "export.jsonl"),
                 "--output", str(tmp_path / "out.jsonl"), "--report", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "report" / "conversations.csv").open()))
    assert [r["conversation_id"] for r in rows] == [f"c{i}" for i in range(40)] + ["silent"]
    assert rows[0]["handoff"] == "True" and rows[1]["handoff"] == "False" and rows[0]["csat"] == "2"
    assert rows[0]["customer_messages"] == "2" and rows[1]["duration_seconds"] == "10"
    assert float(rows[0]["peak_frustration"]) >= float(rows[0]["final_frustration"]) >= 0
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2                      # the plots, embedded
    assert not re.search(r"""(src|href)=['"]https?:""", page)              # nothing fetched from anywhere
    assert "At-risk conversations" in page and "What precedes escalations" in page
    assert "10 handed from the bot to a person" in page


def test_resume_continues_after_the_last_complete_conversation(tiny_model_dir, tmp_path):
    export(tmp_path / "export.jsonl", n=30)
    full = tmp_path / "full.jsonl"
    assert run_bot("analyze", "--model", tiny_model_dir, "--transcripts", str(tmp_path / "export.jsonl"),
               "--output", str(full)).returncode == 0
    lines = full.read_text().splitlines(keepends=True)
    partial = tmp_path / "out.jsonl.part"       # as an interruption leaves it: 7 lines and half of the 8th
    partial.write_text("".join(lines[:7]) + lines[7][:20])
    result = run_bot("analyze", "--model", tiny_model_dir, "--transcripts", str(tmp_path / "export.jsonl"),
                 "--output", str(tmp_path / "out.jsonl"), "--resume", "--report", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.jsonl").read_text() == full.read_text()        # no line twice, none missing
    assert not partial.exists()
    assert len(list(csv.DictReader((tmp_path / "report" / "conversations.csv").open()))) == 31


PEAK_RSS = """
import sys
from bot.__main__ import main
code = main(sys.argv[1:])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(code, int(peak.split()[1]) // 1024)
"""


def peak_mb(model, path, out) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, "analyze", "--model", model, "--transcripts", str(path),
                           "--output", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    code, peak = done.stdout.split()
    assert code == "0", done.stderr
    return int(peak)


def test_analyze_streams_in_constant_memory(tiny_model_dir, tmp_path):
    """200,000 customer messages take no more memory than 20,000: the stated ceiling is 50 MB of growth (what
    grows is the chunk of conversations in flight, not the file)."""
    sizes = {}
    for conversations in (10_000, 100_000):
        path = tmp_path / f"{conversations}.jsonl"
        with path.open("w") as handle:
            for i in range(conversations):
                handle.write(json.dumps({"id": f"c{i}", "messages": [
                    {"role": "customer", "text": f"where is my order {i % 97}"},
                    {"role": "bot", "text": "Sorry, I didn't understand."},
                    {"role": "customer", "text": "still nothing?? third time"}]}) + "\n")
        sizes[conversations] = peak_mb(tiny_model_dir, path, tmp_path / f"{conversations}.out.jsonl")
        assert sum(1 for _ in (tmp_path / f"{conversations}.out.jsonl").open()) == 2 * conversations
    assert sizes[100_000] - sizes[10_000] < 50, sizes


def test_the_device_is_the_cpu_unless_a_gpu_is_asked_for_and_seen(tiny_model_dir, tmp_path, monkeypatch):
    import pytest
    import torch

    from bot import HelplineModel
    from bot.model.device import pick_device

    assert pick_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == "cpu"
    with pytest.raises(ValueError, match="torch sees no CUDA device"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        pick_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == "cuda"
    with pytest.raises(ValueError, match="ONNX backend runs on the CPU only"):
        HelplineModel.from_pretrained(tiny_model_dir, backend="onnx", device="cuda")
    monkeypatch.undo()
    on_cpu = HelplineModel.from_pretrained(tiny_model_dir, backend="torch", device="auto")   # no GPU here: the CPU
    assert on_cpu.backend == "torch" and on_cpu.predict("where is my order").intent
    (tmp_path / "e.jsonl").write_text(json.dumps({"id": "a", "messages": [{"role": "customer", "text": "hi"}]}))
    result = run_bot("analyze", "--model", tiny_model_dir, "--transcripts", str(tmp_path / "e.jsonl"), "--output",
                 str(tmp_path / "o.jsonl"), "--device", "cuda")
    if not torch.cuda.is_available():   # on a machine with a GPU this is a real run instead
        assert result.returncode == 2 and "torch sees no CUDA device" in result.stderr
    else:
        assert result.returncode == 0, result.stderr


def test_ctrl_c_leaves_the_resume_hint_and_no_traceback(tiny_model_dir, tmp_path, monkeypatch, capsys):
    import bot.batch.analyze
    from bot.__main__ import main

    export(tmp_path / "export.jsonl", n=3)

    def interrupted(classifier, paths, out_path, **_kwargs):
        out_path.write_text('{"conversation_id": "c0"}\n')    # some work done, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(bot.batch.analyze, "analyze", interrupted)
    monkeypatch.delenv("HELPLINE_DEBUG", raising=False)
    code = main(["analyze", "--model", tiny_model_dir, "--transcripts", str(tmp_path / "export.jsonl"),
                 "--output", str(tmp_path / "out.jsonl")])
    err = capsys.readouterr().err
    assert code == 130 and "run the same command with --resume" in err and "Traceback" not in err
    assert (tmp_path / "out.jsonl.part").exists()


def test_a_bad_file_leaves_the_earlier_report_and_output_whole(tiny_model_dir, tmp_path):
    export(tmp_path / "export.jsonl", n=5)
    args = ["--model", tiny_model_dir, "--output", str(tmp_path / "out.jsonl"), "--report", str(tmp_path / "report")]
    assert run_bot("analyze", "--transcripts", str(tmp_path / "export.jsonl"), *args).returncode == 0
    before = {name: (tmp_path / "report" / name).read_bytes() for name in ("conversations.csv", "report.html")}
    output = (tmp_path / "out.jsonl").read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text((tmp_path / "export.jsonl").read_text() + '{"id": "x", "messages": [{"role": "robot"}]}\n')
    result = run_bot("analyze", "--transcripts", str(bad), *args)
    assert result.returncode == 2 and "bad.jsonl:7" in result.stderr   # five, the silent one, then it
    assert {name: (tmp_path / "report" / name).read_bytes() for name in before} == before
    assert (tmp_path / "out.jsonl").read_bytes() == output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "export.jsonl", "out.jsonl", "report"]
