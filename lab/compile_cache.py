"""The persistent XLA compilation cache: a program compiles once per machine, not once per process.

`enable_compilation_cache()` turns it on (experiments call it first thing);
`LAB_COMPILATION_CACHE=0` in the environment turns it off.

Two things jax's defaults get wrong for this lab:
- jax writes only programs that took at least 1 s to compile, which on CPU skips
  nearly all of ours (a tiny model's train chunk compiles in well under that);
  we lower the bar to `min_compile_seconds`.
- jax keys a cached program on the jaxlib version and the backend (platform,
  its version, device kinds) but not on the host CPU, and XLA:CPU code is built
  for the host's instruction set: a cache shared across machines (a home
  directory on a cluster) could hand one CPU another's code. So each jaxlib
  version and CPU (model name and feature flags) gets its own directory.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
from pathlib import Path

import jax
import jaxlib

SWITCH = "LAB_COMPILATION_CACHE"  # "0", "false", "no" or "off" disables the cache
DEFAULT_ROOT = Path("~/.cache/lab/xla")


def cache_enabled() -> bool:
    """Whether the environment leaves the cache on (it is on unless `SWITCH` says off)."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def cpu_identity() -> str:
    """The host CPU as a directory name: its model name and a hash of its feature flags.

    From /proc/cpuinfo on Linux; elsewhere from `platform` (model only).
    """
    model, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model", "cpu model") and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = " ".join(sorted(value.split()))
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown-cpu"
    # Virtual machines often report one generic model name for CPUs with different features.
    flags_hash = hashlib.sha256(flags.encode()).hexdigest()[:8] if flags else "noflags"
    return f"{_directory_name(model)}-{flags_hash}"


def cache_directory(root: Path = DEFAULT_ROOT) -> Path:
    """Where programs compiled by this jaxlib on this CPU are kept, under `root`."""
    return Path(root).expanduser() / f"jaxlib-{_directory_name(jaxlib.__version__)}_{cpu_identity()}"


def enable_compilation_cache(root: Path = DEFAULT_ROOT, min_compile_seconds: float = 0.0) -> Path | None:
    """Cache every compiled program under `cache_directory(root)`, unless `SWITCH` is off.

    Call before the first compilation: jax reads these settings when it first
    compiles. Programs that compiled faster than `min_compile_seconds` are not
    written. Returns the directory, or None when the cache is switched off.
    """
    if not cache_enabled():
        return None
    if min_compile_seconds < 0:
        raise ValueError(f"min_compile_seconds must be >= 0, got {min_compile_seconds}")
    directory = cache_directory(root)
    directory.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_compile_seconds)
    return directory


def _directory_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "unknown"
