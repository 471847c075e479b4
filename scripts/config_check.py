"""Validation of the workflow config against workflow/schemas/config.schema.yaml.

Snakemake hands us a config merged from config.yaml, any --configfile and any
--config values. Values from --config arrive as strings ('5', 'true'), and YAML
reads `1e-3` as a string, so scalars are first coerced to the type the schema
asks for. Then unknown keys are reported with the closest valid key, defaults
are filled in, types and ranges are checked, and contradictory settings are
refused. Every problem is one line naming the key.
"""
from __future__ import annotations

import copy
import difflib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from common import UserError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"

_INT_RE = re.compile(r"[+-]?\d+")
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}


class ConfigError(UserError):
    pass


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _types(schema: dict) -> list[str]:
    declared = schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _coerce_scalar(value: str, schema: dict) -> Any:
    text = value.strip()
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        coerced = _coerce_scalar(value, branch)
        if not isinstance(coerced, str) or "const" in branch:
            if "const" not in branch or coerced == branch["const"]:
                return coerced
    types = _types(schema)
    if "integer" in types and _INT_RE.fullmatch(text):
        return int(text)
    if "number" in types:
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return int(number) if _INT_RE.fullmatch(text) else number
    if "boolean" in types and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if "null" in types and text.lower() in {"null", "none", "~", ""}:
        return None
    return value


def coerce(value: Any, schema: dict) -> Any:
    """Convert strings to the numbers, booleans and nulls the schema expects."""
    if isinstance(value, str):
        return _coerce_scalar(value, schema)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {key: coerce(item, properties.get(key, {})) for key, item in value.items()}
    if isinstance(value, list):
        item_schema = schema.get("items", {})
        return [coerce(item, item_schema) for item in value]
    return value


def _check_unknown_keys(value: Any, schema: dict, prefix: str) -> None:
    if not isinstance(value, dict) or "properties" not in schema:
        return
    properties = schema["properties"]
    for key in value:
        if key not in properties:
            where = f"{prefix}{key}"
            close = difflib.get_close_matches(str(key), list(properties), n=1, cutoff=0.5)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else ""
            valid = ", ".join(sorted(properties))
            raise ConfigError(f"config: unknown key '{where}'{hint} (valid keys here: {valid})")
        _check_unknown_keys(value[key], properties[key], f"{prefix}{key}.")


def _fill_defaults(value: Any, schema: dict) -> Any:
    if not isinstance(value, dict):
        return value
    for key, sub in schema.get("properties", {}).items():
        if key not in value and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
        if key in value:
            value[key] = _fill_defaults(value[key], sub)
    return value


def _explain(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
    if error.validator == "oneOf":
        options = [branch.get("const", branch.get("type")) for branch in error.validator_value]
        reason = f"{error.instance!r} is not one of the allowed forms {options}"
    else:
        reason = error.message
    return f"config: {key}: {reason}"


def _check_contradictions(raw: dict, config: dict) -> None:
    """Settings that each pass the schema but cannot all be meant at once."""
    data, train = config["data"], config["train"]
    raw_train = raw.get("train", {}) or {}
    if data["source"] == "local" and not data["path"]:
        raise ConfigError("config: data.path: data.source is 'local' but data.path is not set; "
                          "name the folder holding train.csv, test.csv and sample_submission.csv")
    if data["source"] != "local" and data["path"]:
        raise ConfigError(f"config: data.path is set but data.source is '{data['source']}'; "
                          "set data.source: local to use that folder, or remove data.path")
    if train["optimizer"] != "adam":
        for key in ("beta1", "beta2"):
            if key in raw_train:
                raise ConfigError(f"config: train.{key} is set but train.optimizer is "
                                  f"'{train['optimizer']}'; {key} only applies to adam")
    if train["optimizer"] not in ("momentum", "nesterov") and "momentum" in raw_train:
        raise ConfigError(f"config: train.momentum is set but train.optimizer is '{train['optimizer']}'; "
                          "use optimizer momentum or nesterov, or remove train.momentum")
    if train["schedule"] != "step":
        for key in ("step_size", "gamma"):
            if key in raw_train:
                raise ConfigError(f"config: train.{key} is set but train.schedule is "
                                  f"'{train['schedule']}'; {key} only applies to schedule step")
    if not train["early_stopping"]:
        for key in ("monitor", "patience"):
            if key in raw_train:
                raise ConfigError(f"config: train.{key} is set but train.early_stopping is false; "
                                  "enable early stopping or remove the key")


def validate_config(raw: Any, schema: dict | None = None) -> dict:
    """Return the config with types coerced and defaults filled, or raise ConfigError."""
    schema = schema or load_schema()
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config: expected a mapping of settings at the top level, got {type(raw).__name__}")
    coerced = coerce(copy.deepcopy(raw), schema)
    _check_unknown_keys(coerced, schema, "")
    for key, value in coerced.items():
        if isinstance(schema["properties"][key].get("default"), dict) and value is None:
            coerced[key] = {}
    config = _fill_defaults(copy.deepcopy(coerced), schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise ConfigError(_explain(errors[0]))
    _check_contradictions(coerced, config)
    return config


def rule_settings(config: dict, *sections: str) -> str:
    """One canonical JSON string for a rule's settings, so that Snakemake sees any change."""
    return json.dumps({section: config[section] for section in sections}, sort_keys=True,
                      separators=(",", ":"))
