"""Where a compiled program's time goes: per-instruction times from a profiler trace.

While `jax.profiler` traces, XLA's runtime logs every HLO instruction it executes
(a fusion, a dot, a copy) as a complete event named after the instruction. Summing
those durations by name, and reading off the compiled program's HLO text what each
instruction computes and which JAX operation it came from, tells where the time goes
without TensorBoard or Perfetto.
"""

from __future__ import annotations

import collections
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

# Opcodes worth naming in a fusion's summary; parameters, constants, broadcasts and
# bitcasts are in almost every fusion and say nothing about its cost.
NOTABLE_OPCODES = frozenset({
    "dot", "convolution", "exponential", "log", "tanh", "logistic", "erf", "sine", "cosine", "power", "sqrt",
    "rsqrt", "divide", "reduce", "select", "transpose", "copy", "concatenate", "dynamic-slice",
    "dynamic-update-slice", "gather", "scatter", "sort",
})
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+) ([\w\-]+)\((.*)$")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) \(.*\{$")


@dataclass(frozen=True)
class Instruction:
    shape: str  # of its output, e.g. f32[3040,256]{1,0}
    computes: str  # its opcode, or for a fusion the notable opcodes inside it
    source: str  # the JAX operation it lowers, e.g. transpose(jvp(btd,dshk->sbthk))/dot_general


@dataclass(frozen=True)
class OpTime:
    name: str  # the HLO instruction
    seconds: float  # summed over every execution in the trace
    calls: int
    instruction: Instruction


def hlo_instructions(hlo_text: str) -> dict[str, Instruction]:
    """Every instruction of an optimized HLO module (`compiled.as_text()`), by name."""
    opcodes_of: dict[str, set[str]] = collections.defaultdict(set)  # computation -> opcodes in it
    lines: list[tuple[str, str, str, str]] = []
    computation = None
    for line in hlo_text.splitlines():
        if header := _COMPUTATION.match(line):
            computation = header.group(1)
        elif match := _INSTRUCTION.match(line):
            name, shape, opcode, rest = match.groups()
            opcodes_of[computation].add(opcode)
            lines.append((name, shape, opcode, rest))
    instructions = {}
    for name, shape, opcode, rest in lines:
        computes = opcode
        if opcode == "fusion" and (called := re.search(r"calls=%?([\w.\-]+)", rest)):
            computes = " ".join(sorted(opcodes_of[called.group(1)] & NOTABLE_OPCODES)) or "elementwise"
        source = re.search(r'op_name="([^"]*)"', rest)
        # The last two path parts: the traced function and the primitive, without jit(...)/while/body/...
        instructions[name] = Instruction(shape, computes, "/".join(source.group(1).split("/")[-2:]) if source else "")
    return instructions


def traced_seconds(trace_dir: Path) -> dict[str, tuple[float, int]]:
    """(summed seconds, count) of each complete event in the newest trace under `trace_dir`."""
    traces = sorted(Path(trace_dir).rglob("*.trace.json.gz"), key=lambda p: p.stat().st_mtime)
    if not traces:
        raise FileNotFoundError(f"no *.trace.json.gz under {trace_dir}: was jax.profiler tracing into it?")
    with gzip.open(traces[-1]) as f:
        events = json.load(f)["traceEvents"]
    totals: dict[str, list] = collections.defaultdict(lambda: [0.0, 0])
    for event in events:
        if event.get("ph") == "X" and "dur" in event:
            totals[event["name"]][0] += event["dur"] * 1e-6
            totals[event["name"]][1] += 1
    return {name: (seconds, calls) for name, (seconds, calls) in totals.items()}


def instruction_times(trace_dir: Path, hlo_text: str) -> list[OpTime]:
    """The program's instructions that ran while tracing, slowest first.

    Host-side events (Python frames, the runtime's own executor spans) are left
    out: they overlap the instructions and would count the same time twice.
    """
    instructions = hlo_instructions(hlo_text)
    times = [
        OpTime(name, seconds, calls, instructions[name])
        for name, (seconds, calls) in traced_seconds(trace_dir).items() if name in instructions
    ]
    return sorted(times, key=lambda t: -t.seconds)
