"""The architecture, checked: data flows one way through lab/, no module imports one above it."""

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "lab"
# Bottom to top. A module may import modules of its own layer or below, never above.
LAYERS = (
    ("configs", "batching", "devices", "compile_cache"),  # foundations: no lab imports
    ("language",),
    ("facts",),
    ("random_worlds",),
    ("documents",),
    ("corpus", "datasets"),
    ("model",),
    ("train",),
    ("checkpoint", "pretraining"),
    ("evaluate", "flops"),
    ("conditions", "augment", "binding"),
    ("study",),
    ("results", "curves"),
    ("plots", "sweep"),
)
LAYER = {module: i for i, modules in enumerate(LAYERS) for module in modules}


def lab_imports(path: Path) -> set[str]:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lab."):
            imported.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            imported |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lab.")}
    return imported


def test_every_module_has_a_layer():
    modules = {p.stem for p in LAB.glob("*.py")} - {"__init__"}
    assert modules == set(LAYER)


def test_no_module_imports_one_above_it():
    upward = [
        f"lab/{path.stem}.py imports lab.{other}"
        for path in sorted(LAB.glob("*.py")) if path.stem != "__init__"
        for other in sorted(lab_imports(path)) if LAYER[other] > LAYER[path.stem]
    ]
    assert not upward


def test_checkpoint_only_saves_and_loads():
    assert lab_imports(LAB / "checkpoint.py") <= {"configs"}


def test_every_module_stays_under_400_lines():
    assert {p.name: n for p in LAB.glob("*.py") if (n := len(p.read_text().splitlines())) >= 400} == {}
