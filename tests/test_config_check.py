"""The workflow config: coercion, defaults, unknown keys, ranges and contradictions."""
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from config_check import ConfigError, load_schema, rule_settings, validate_config

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = load_schema()


def test_shipped_config_is_valid_and_complete():
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    config = validate_config(raw, SCHEMA)
    assert config["data"]["source"] == "sample"
    assert config["train"]["weight_decay"] == pytest.approx(1e-4)
    assert set(config) == set(SCHEMA["properties"])


@pytest.mark.parametrize("preset", sorted((ROOT / "config" / "presets").glob("*.yaml")), ids=lambda p: p.name)
def test_presets_are_valid_on_top_of_config(preset):
    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    overlay = yaml.safe_load(preset.read_text())
    for section, values in overlay.items():
        base.setdefault(section, {}).update(values) if isinstance(values, dict) else base.update({section: values})
    validate_config(base, SCHEMA)


def test_empty_config_takes_every_default():
    config = validate_config({}, SCHEMA)
    assert config["split"]["dev_fraction"] == 0.1
    assert config["model"]["hidden"] == [256, 128]
    assert config["train"]["batch_size"] == 128


def test_strings_from_the_command_line_become_numbers():
    # snakemake --config parses nested values with YAML's BaseLoader: every scalar is a string.
    config = validate_config({"train": {"epochs": "5", "learning_rate": "1e-3", "batch_size": "64",
                                        "early_stopping": "false"},
                              "model": {"hidden": ["64", "32"], "dropout": "0.25"},
                              "split": {"dev_fraction": ".2"}}, SCHEMA)
    assert config["train"]["epochs"] == 5
    assert config["train"]["learning_rate"] == pytest.approx(0.001)
    assert config["train"]["batch_size"] == 64
    assert config["train"]["early_stopping"] is False
    assert config["model"]["hidden"] == [64, 32]
    assert config["split"]["dev_fraction"] == pytest.approx(0.2)


def test_full_batch_is_accepted():
    assert validate_config({"train": {"batch_size": "full"}}, SCHEMA)["train"]["batch_size"] == "full"


@pytest.mark.parametrize("raw, key, close", [
    ({"train": {"learnig_rate": 0.1}}, "train.learnig_rate", "train.learning_rate"),
    ({"modle": {}}, "modle", "model"),
    ({"model": {"hiden": [10]}}, "model.hiden", "model.hidden"),
])
def test_unknown_key_is_named_with_the_closest_valid_key(raw, key, close):
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, SCHEMA)
    message = str(caught.value)
    assert f"'{key}'" in message and f"'{close}'" in message
    assert "\n" not in message


@pytest.mark.parametrize("raw, key", [
    ({"train": {"epochs": -1}}, "train.epochs"),
    ({"train": {"epochs": 0}}, "train.epochs"),
    ({"split": {"dev_fraction": 1}}, "split.dev_fraction"),
    ({"split": {"dev_fraction": 1.5}}, "split.dev_fraction"),
    ({"train": {"learning_rate": 0}}, "train.learning_rate"),
    ({"train": {"learning_rate": -0.1}}, "train.learning_rate"),
    ({"model": {"hidden": []}}, "model.hidden"),
    ({"model": {"hidden": [64, 0]}}, "model.hidden.1"),
    ({"model": {"activation": "relu6"}}, "model.activation"),
    ({"train": {"batch_size": "half"}}, "train.batch_size"),
    ({"train": {"epochs": "many"}}, "train.epochs"),
    ({"model": {"dropout": 1.0}}, "model.dropout"),
    ({"threads": 0}, "threads"),
    ({"train": {"max_shift": 5}}, "train.max_shift"),
    ({"train": {"max_shift": -1}}, "train.max_shift"),
])
def test_wrong_type_or_range_names_the_key(raw, key):
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, SCHEMA)
    assert f"config: {key}:" in str(caught.value)


@pytest.mark.parametrize("raw, words", [
    ({"data": {"source": "local"}}, ["data.path", "local"]),
    ({"data": {"source": "sample", "path": "/tmp/x"}}, ["data.path", "sample"]),
    ({"train": {"optimizer": "sgd", "momentum": 0.9}}, ["train.momentum", "sgd"]),
    ({"train": {"optimizer": "sgd", "beta1": 0.9}}, ["train.beta1", "adam"]),
    ({"train": {"schedule": "cosine", "step_size": 3}}, ["train.step_size", "step"]),
    ({"train": {"early_stopping": False, "patience": 3}}, ["train.patience", "early_stopping"]),
])
def test_contradictory_settings_are_refused(raw, words):
    with pytest.raises(ConfigError) as caught:
        validate_config(raw, SCHEMA)
    assert all(word in str(caught.value) for word in words)


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        validate_config(["train"], SCHEMA)


def test_rule_settings_is_canonical_and_order_sensitive():
    a = validate_config({"train": {"optimizer": "momentum", "learning_rate": 0.1, "momentum": 0.9}}, SCHEMA)
    b = validate_config({"train": {"momentum": 0.1, "learning_rate": 0.9, "optimizer": "momentum"}}, SCHEMA)
    assert rule_settings(a, "train") != rule_settings(b, "train")
    reordered = json.loads(rule_settings(a, "model", "train"))
    assert rule_settings(reordered, "model", "train") == rule_settings(a, "model", "train")


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(["full", "adam", "1e-3", "relu", "-1", "0.5"]))
sections = st.sampled_from(["data", "split", "model", "train", "submit", "threads", "extra"])
keys = st.sampled_from(["source", "path", "dev_fraction", "seed", "hidden", "activation", "dropout",
                        "optimizer", "learning_rate", "batch_size", "epochs", "momentum", "message", "x"])
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
                      max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(sections, values, max_size=4))
def test_fuzzed_configs_give_a_valid_config_or_a_config_error(raw):
    try:
        config = validate_config(raw, SCHEMA)
    except ConfigError as error:
        assert str(error).startswith("config") and "\n" not in str(error)
    else:
        assert set(config) == set(SCHEMA["properties"])
