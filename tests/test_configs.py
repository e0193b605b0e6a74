"""Config dicts and their differences; and every config, fuzzed: bad values fail where they enter, by name."""

import dataclasses
import math
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.augment import AugmentConfig
from lab.conditions import FinetuneConfig
from lab.configs import config_dict, config_differences
from lab.corpus import CorpusConfig
from lab.datasets import ReversalCurseConfig, ReversalsConfig, SemanticStructureConfig, SyllogismsConfig
from lab.language import LanguageConfig
from lab.model import ModelConfig
from lab.pretraining import PretrainConfig
from lab.train import OptimConfig


def test_config_dict_reads_as_its_json_would():
    config = OptimConfig(trainable=("embed",))
    assert config_dict(config)["trainable"] == ["embed"]
    assert config_dict(config, devices=2)["devices"] == 2


def test_differences_name_each_differing_leaf():
    saved = {"model": {"d_model": 16, "n_heads": 2}, "seed": 0, "trainable": ["a"]}
    wanted = {"model": {"d_model": 32, "n_heads": 2}, "seed": 0, "trainable": ("a",)}
    assert config_differences(saved, wanted) == ["model.d_model: checkpoint has 16, config asks for 32"]
    assert config_differences(saved, saved) == []


FLAT_CONFIGS = (
    LanguageConfig, CorpusConfig, ModelConfig, OptimConfig, AugmentConfig, ReversalsConfig, ReversalCurseConfig,
    SyllogismsConfig, SemanticStructureConfig,
)
NUMBERS = st.one_of(st.integers(-3, 300), st.floats(allow_nan=True, allow_infinity=True, width=32))


def values_for(annotation):
    """A strategy of values of the field's type, mostly out of range."""
    hint = eval(annotation, {**vars(typing), "Literal": typing.Literal}) if isinstance(annotation, str) else annotation
    origin = typing.get_origin(hint)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.integers(-3, 300)
    if hint is float:
        return NUMBERS
    if origin is typing.Literal:
        return st.one_of(st.sampled_from(typing.get_args(hint)), st.text(max_size=6))
    if origin is tuple:
        return st.lists(st.integers(-2, 4) if typing.get_args(hint)[0] is int else st.text(max_size=6), max_size=3).map(tuple)
    raise AssertionError(f"no strategy for {hint!r}")


def fields_of(config_type) -> dict:
    hints = typing.get_type_hints(config_type, include_extras=False, localns={"Literal": typing.Literal})
    return {f.name: hints[f.name] for f in dataclasses.fields(config_type)}


@st.composite
def overrides(draw, config_type):
    fields = fields_of(config_type)
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3, unique=True))
    return {name: draw(values_for(fields[name])) for name in chosen}


@pytest.mark.parametrize("config_type", FLAT_CONFIGS, ids=lambda t: t.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_config_of_random_values_is_built_or_refused_by_field_name(config_type, data):
    values = data.draw(overrides(config_type))
    try:
        config_type(**values)
    except ValueError as e:
        assert any(name in str(e) for name in values), f"{e} names none of {sorted(values)}"
        return
    for name, value in values.items():  # what was accepted is usable
        if isinstance(value, float):
            assert math.isfinite(value), f"{config_type.__name__}.{name}={value} was accepted"


@settings(max_examples=100, deadline=None)
@given(corpus=overrides(CorpusConfig), model=overrides(ModelConfig), language=overrides(LanguageConfig))
def test_a_pretraining_config_of_random_parts_passes_its_check_or_names_a_field(corpus, model, language):
    try:
        config = PretrainConfig(language=LanguageConfig(**language), corpus=CorpusConfig(**corpus), model=ModelConfig(**model))
    except ValueError:
        return  # a part refused its values, by name (above)
    try:
        config.check()
    except ValueError as e:
        assert any(part in str(e) for part in ("corpus.", "model.", "language.")), str(e)


def test_fine_tuning_config_names_its_own_fields():
    with pytest.raises(ValueError, match="finetune.orderings"):
        FinetuneConfig(orderings=0)
