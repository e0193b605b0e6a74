"""The persistent compilation cache: a second process reads what the first compiled.

jax reads the cache settings once per process, at its first compilation, so the
processes that use the cache are fresh ones; this process only checks names and
the off switch, which must leave jax's settings alone.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jaxlib
import pytest

from lab.compile_cache import SWITCH, cache_directory, cache_enabled, cpu_identity, enable_compilation_cache

REPO = Path(__file__).parent.parent

# Compiles one small program with the cache on, and reports what the cache did.
COMPILE_ONCE = """
import json, sys
from pathlib import Path
from lab.compile_cache import enable_compilation_cache
directory = enable_compilation_cache(Path(sys.argv[1]))
import jax, numpy as np
events = []
jax.monitoring.register_event_listener(lambda event, **_: events.append(event))
jax.jit(lambda x: np.float32(2) * x @ x.T)(np.ones((8, 8), np.float32)).block_until_ready()
print(json.dumps({"directory": str(directory), "hits": events.count("/jax/compilation_cache/cache_hits")}))
"""


def compile_in_a_fresh_process(root: Path) -> dict:
    """The cache directory and its hit count; the switch is left at its default (on)."""
    env = {k: v for k, v in os.environ.items() if k != SWITCH} | {"PYTHONPATH": str(REPO), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", COMPILE_ONCE, str(root)], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_second_process_reads_the_program_the_first_compiled(tmp_path):
    first = compile_in_a_fresh_process(tmp_path)
    written = files_under(tmp_path)
    assert first["hits"] == 0 and written, "the first process should compile and write its program"
    assert all(Path(first["directory"]) in p.parents for p in written)
    second = compile_in_a_fresh_process(tmp_path)
    assert second["hits"] >= 1 and second["directory"] == first["directory"]
    assert files_under(tmp_path) == written  # read, not compiled and written again


def test_the_off_switch_leaves_jax_alone_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(SWITCH, "0")
    before = jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs
    assert not cache_enabled()
    assert enable_compilation_cache(tmp_path / "cache") is None
    assert (jax.config.jax_compilation_cache_dir, jax.config.jax_persistent_cache_min_compile_time_secs) == before
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("value, enabled", [(None, True), ("1", True), ("0", False), ("off", False), ("False", False)])
def test_the_switch_is_on_unless_it_says_off(monkeypatch, value, enabled):
    if value is None:
        monkeypatch.delenv(SWITCH, raising=False)
    else:
        monkeypatch.setenv(SWITCH, value)
    assert cache_enabled() == enabled


def test_the_directory_is_keyed_on_the_jaxlib_version_and_the_cpu(tmp_path):
    directory = cache_directory(tmp_path)
    assert directory.parent == tmp_path
    assert jaxlib.__version__ in directory.name and directory.name.endswith(cpu_identity())
    assert all(c.isalnum() or c in "-._" for c in directory.name)  # a plain name on every filesystem
    assert cache_directory(Path("~")).parent == Path.home()
