"""How the batch path (`python -m bot analyze`) runs the int8 graph on the CPU at hand: worker processes,
ONNX Runtime threads in each, and messages per batch.

`benchmarks/batch_speed.py` measures the options on a CPU (graphs, batch sizes, threads, one process per core);
the rule below is what those runs chose (benchmarks/RESULTS.md, "Batch path"):
- one process per core beats one process with a thread per core: a message's matrices are small, so ONNX
  Runtime's threads spend much of a batch waiting on each other, while separate processes never wait;
- small batches (16 messages): each process sorts its chunk of messages by token count, so a small batch holds
  messages of nearly one length (little padding) and its activations stay in cache; larger ones ran slower.
- the int8 graph: faster than the fp32 graph on a VNNI CPU. Without VNNI (AVX2 only) int8 matrix products gain
  little over fp32 (RESULTS.md, Latency), but the batch path reads with the graph the live bot serves.
Any flag of the command (--processes, --threads, --batch-size) overrides the plan.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class BatchPlan:
    processes: int = 1           # worker processes, each with its own classifier (1: this process)
    threads: int | None = None   # ONNX Runtime intra-op threads per process (None: all cores)
    batch_size: int = 64         # messages per model call

    def __post_init__(self):
        for name in ("processes", "threads", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"--{name.replace('_', '-')} must be a whole number of at least 1, not {value!r}")

    def override(self, **values) -> BatchPlan:
        """This plan with the values that are not None replaced (the command's flags)."""
        chosen = {name: value for name, value in values.items() if value is not None}
        if chosen.get("processes", self.processes) > 1 and "threads" not in chosen:
            chosen["threads"] = 1   # several processes share the cores: one thread each
        return replace(self, **chosen)


BATCH_SIZE = 16


def plan_for(cores: int) -> BatchPlan:
    """The plan for a machine with ``cores`` cores."""
    cores = max(1, cores)
    return BatchPlan(processes=cores, threads=1, batch_size=BATCH_SIZE)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity: taskset, a container's cpuset; where the OS does not
    say, all the machine has)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def plan_for_this_cpu() -> BatchPlan:
    return plan_for(usable_cores())
