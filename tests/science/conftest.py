"""One real pretrained model per test session, shared by the science tests.

The model is the experiment's default configuration, cached under `checkpoints/`
like any other, so a machine that has run the experiment (or the tests) once
reuses it. Every test here is marked `slow`: `pytest -m "not slow"` skips them.
"""

from pathlib import Path

import pytest

from lab.pretraining import PretrainConfig, pretrained_model
from lab.language import Language

HERE = Path(__file__).resolve().parent

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pretrain_config() -> PretrainConfig:
    return PretrainConfig()


@pytest.fixture(scope="session")
def pretrained(pretrain_config):
    """(graphdef, params) of the default pretrained model."""
    return pretrained_model(pretrain_config, REPO / "checkpoints", progress=False)


@pytest.fixture(scope="session")
def lang(pretrain_config) -> Language:
    return Language(pretrain_config.language)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.slow)
