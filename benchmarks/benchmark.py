"""How fast the lab trains: throughput, MFU, compile time and batched fine-tuning.

For one model config, in one process: the device's matmul peak (a big jitted
float32 matmul), the compile time of the scanned train chunk, its throughput in
tokens/s and model FLOP/s (lab/flops.py: matmuls and attention, 3 × forward), their
ratio to the peak (MFU), K fine-tuning runs vmapped in one call against the same
K runs one call after another, and greedy decoding with the key/value cache against
recomputing every prefix (same prompts, same outputs). Warm-up calls are excluded; every time waits on
`jax.block_until_ready`.

A token is a position the model is trained on: the train step forwards
`tokens[:, :-1]`, so a step covers batch_size × (seq_len - 1) tokens.

    python benchmarks/benchmark.py
    python benchmarks/benchmark.py --json --model.d-ff 512 --dispatches 5
    python benchmarks/benchmark.py --finetune.steps 100 --runs 8

Compare with benchmarks/torch_gpt.py (same argument names), run after this, not beside it.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
from dataclasses import dataclass

import jax
import tyro

from benchmarks.timing import matmul_peak_flops, time_decoding, time_finetune_runs, time_train_chunk
from lab.conditions import FinetuneConfig
from lab.flops import train_step_flops
from lab.model import ModelConfig
from lab.train import OptimConfig


@dataclass(frozen=True)
class Config:
    model: ModelConfig = ModelConfig()  # the lab's pretraining model
    batch_size: int = OptimConfig().batch_size
    steps_per_dispatch: int = OptimConfig().steps_per_dispatch  # train steps per compiled call
    dispatches: int = 10  # timed train calls after the warm-up; their median is reported
    runs: int = 16  # K, fine-tuning runs timed batched and one by one; 0 skips that part
    finetune: OptimConfig = FinetuneConfig().optim  # the lab's fine-tuning; lower --finetune.steps to go faster
    finetune_docs: int = 16  # P random documents per run to draw batches from
    finetune_doc_len: int = 48
    # Decoding at a global augmentation's shapes: a world's text in context, 40 new tokens.
    decode_prompts: int = 64  # 0 skips decoding
    decode_prompt_len: int = 48
    decode_new_tokens: int = 40
    peak_matmul_size: int = 2048
    peak_repeats: int = 5  # the best of these is the peak
    seed: int = 0  # parameters and random tokens
    json: bool = False  # one JSON object on stdout instead of the table

    def __post_init__(self):
        for field in ("batch_size", "steps_per_dispatch", "dispatches", "finetune_docs", "peak_matmul_size",
                      "peak_repeats"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")
        if self.runs < 0 or self.decode_prompts < 0:
            raise ValueError(f"runs and decode_prompts must be >= 0 (0 skips that part), got {self.runs}, {self.decode_prompts}")
        if self.decode_prompts and not (2 <= self.decode_prompt_len and self.decode_new_tokens >= 1
                                        and self.decode_prompt_len + self.decode_new_tokens <= self.model.seq_len):
            raise ValueError(
                f"decode_prompt_len ({self.decode_prompt_len}) >= 2 plus decode_new_tokens ({self.decode_new_tokens}) "
                f">= 1 must fit model.seq_len={self.model.seq_len}"
            )
        if not 2 <= self.finetune_doc_len <= self.model.seq_len:
            raise ValueError(
                f"finetune_doc_len must lie in [2, model.seq_len={self.model.seq_len}], got {self.finetune_doc_len}"
            )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(config: Config) -> dict:
    """Measure, print the table or the JSON object, and return the results."""
    m = config.model
    log(f"matmul peak: {config.peak_matmul_size}² float32, best of {config.peak_repeats}")
    peak = matmul_peak_flops(config.peak_matmul_size, config.peak_repeats)

    log(f"train chunk: compile, then {config.dispatches} × {config.steps_per_dispatch} steps")
    optim = OptimConfig(batch_size=config.batch_size, steps_per_dispatch=config.steps_per_dispatch)
    train = time_train_chunk(m, optim, config.dispatches, config.seed)
    step_seconds = statistics.median(train.dispatch_seconds) / config.steps_per_dispatch
    step_flops = train_step_flops(m, config.batch_size, m.seq_len - 1)
    model_flops = step_flops / step_seconds

    results = {
        "tokens_per_second": config.batch_size * (m.seq_len - 1) / step_seconds,
        "model_flops_per_second": model_flops,
        "peak_flops_per_second": peak,
        "mfu": model_flops / peak,
        "compile_seconds": train.compile_seconds,
        "step_seconds": step_seconds,
        "train_step_flops": step_flops,
    }
    if config.runs:
        log(f"fine-tuning: {config.runs} runs of {config.finetune.steps} steps, one by one then batched")
        ft = time_finetune_runs(m, config.finetune, config.runs, config.finetune_docs, config.finetune_doc_len,
                                config.seed)
        results |= {
            "sequential_runs_per_second": ft.runs / ft.sequential_seconds,
            "batched_runs_per_second": ft.runs / ft.batched_seconds,
            "batched_speedup": ft.sequential_seconds / ft.batched_seconds,
        }
    if config.decode_prompts:
        log(f"decoding: {config.decode_prompts} prompts of up to {config.decode_prompt_len} tokens, "
            f"{config.decode_new_tokens} new ones, cached then recomputing")
        dec = time_decoding(m, config.decode_prompts, config.decode_prompt_len, config.decode_new_tokens, config.seed)
        results |= {
            "decode_tokens_per_second": dec.tokens / dec.cached_seconds,
            "decode_recomputing_tokens_per_second": dec.tokens / dec.recomputing_seconds,
            "decode_speedup": dec.recomputing_seconds / dec.cached_seconds,
            "decode_outputs_identical": dec.identical,
        }
    device = jax.devices()[0]
    results |= {
        "config": dataclasses.asdict(m) | {
            "batch_size": config.batch_size, "steps_per_dispatch": config.steps_per_dispatch,
            "dispatches": config.dispatches, "runs": config.runs, "finetune_steps": config.finetune.steps,
            "finetune_batch_size": config.finetune.batch_size, "decode_prompts": config.decode_prompts,
            "decode_prompt_len": config.decode_prompt_len, "decode_new_tokens": config.decode_new_tokens,
        },
        "device": {"kind": device.device_kind, "platform": device.platform, "count": jax.device_count()},
        "jax_version": jax.__version__,
        # Set, a compile may be a cache hit rather than a cold compile.
        "compilation_cache_dir": jax.config.jax_compilation_cache_dir,
    }
    print(json.dumps(results) if config.json else table(results))
    return results


def table(results: dict) -> str:
    c, d = results["config"], results["device"]
    rows = [
        ("model", f"L={c['n_layers']} D={c['d_model']} H={c['n_heads']} F={c['d_ff']} T={c['seq_len']} "
                  f"V={c['vocab_size']} {c['positional']}"),
        ("device", f"{d['count']} × {d['kind']} ({d['platform']}), jax {results['jax_version']}"),
        ("batch", f"{c['batch_size']} × {c['seq_len'] - 1} tokens, {c['steps_per_dispatch']} steps per dispatch"),
        ("compile", f"{results['compile_seconds']:.2f} s"),
        ("train step", f"{results['step_seconds'] * 1e3:.2f} ms (median dispatch / steps)"),
        ("throughput", f"{results['tokens_per_second']:,.0f} tokens/s"),
        ("model FLOP/s", f"{results['model_flops_per_second'] / 1e9:.2f} GFLOP/s"),
        ("matmul peak", f"{results['peak_flops_per_second'] / 1e9:.2f} GFLOP/s"),
        ("MFU", f"{results['mfu']:.1%}"),
    ]
    if "batched_speedup" in results:
        rows += [
            (f"{c['runs']} fine-tunes", f"{c['finetune_steps']} steps each, batch {c['finetune_batch_size']}"),
            ("  sequential", f"{results['sequential_runs_per_second']:.3f} runs/s"),
            ("  batched", f"{results['batched_runs_per_second']:.3f} runs/s"),
            ("  speedup", f"{results['batched_speedup']:.2f}×"),
        ]
    if "decode_speedup" in results:
        rows += [
            ("decoding", f"{c['decode_prompts']} prompts ≤ {c['decode_prompt_len']} tokens, {c['decode_new_tokens']} new"),
            ("  cached", f"{results['decode_tokens_per_second']:,.0f} tokens/s"),
            ("  recomputing", f"{results['decode_recomputing_tokens_per_second']:,.0f} tokens/s"),
            ("  speedup", f"{results['decode_speedup']:.2f}× (same outputs: {results['decode_outputs_identical']})"),
        ]
    return "\n".join(f"{name:<14} {value}" for name, value in rows)


if __name__ == "__main__":
    main(tyro.cli(Config))
