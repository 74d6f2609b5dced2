"""The Pulumi engine's config step, modelled without the CLI: what the program is handed.

Before `pulumi preview` or `pulumi up` starts the program, the engine reads `Pulumi.yaml` and
`Pulumi.<stack>.yaml`, merges the project's declared defaults under the stack's values,
validates the result and hands the language host every value as text (`PULUMI_CONFIG`, a JSON
object of "namespace:key" -> string). `engine_config` does the same; the test harness, local
mode and the cost CLI all read config through it, so none of them can disagree with a
deployment about which values a stack has.

Modelled on pulumi/pulumi (Go), read with the search tools:
- sdk/go/common/workspace/config.go, `ValidateStackConfigAndApplyProjectConfig` -> `mergeConfig`:
  every declared key (sorted) the stack does not set takes the project's `value` or `default`
  through `createConfigValue` (primitives rendered with Go's `%v`, arrays and objects as JSON);
  a project-namespace key with neither is collected and reported at once by
  `missingStackConfigurationKeysError` ("Stack 'dev' is missing configuration value 'x'").
  Then `validateStackConfigValues` / `validateStackConfigValue` check every explicitly typed
  key of the merged config with `ValidateConfigValue` (sdk/go/common/workspace/project.go):
  string = not an array/object; integer = `strconv.Atoi` accepts the text; boolean = exactly
  "true" or "false"; array = a list whose items pass. Failure: "Stack 'dev' with configuration
  key 'x' must be of type 'integer'". `secret: true` keys must be `secure:` in the stack.
  The CLI prefixes these with "validating stack config: ".
- project.go `Validate`: a declared default that is not of its declared type fails at load.
- Keys of other namespaces (`aws:region`) pass through untouched; project config may not type
  them (pulumi/pulumi#11192). A stack key in the project's namespace that `Pulumi.yaml` does not
  declare is NOT rejected by today's engine: the check that did (3.43's
  `missingProjectConfigurationKeysError`, "uses configuration value ... which is not defined by
  the project configuration") was dropped with #11192, so such a key reaches the program as
  text, and `infra/config.py` must reject it itself (it does, naming the closest declared key).
- sdk/go/common/resource/config/key.go `ParseKey`: keys are `<namespace>:<name>` (or the old
  `<namespace>:config:<name>`), anything else fails with the engine's message.
- sdk/go/common/resource/config/object.go `unmarshalObject` / `MarshalString` and plaintext.go
  `marshalText`: a stack file's YAML value becomes bool / int64 / float64 / string / list / map;
  strings reach the program as written, everything else as Go's encoding/json renders it
  (`2`, `true`, `0.5`, `1e+21`, `["a","b"]`, `{"a":1}` with sorted keys, no spaces). The stack
  file is read as the Go YAML library reads it (YAML 1.2 core schema: `yes`/`on` are strings,
  not booleans; no sexagesimal numbers), not as PyYAML's YAML 1.1 would.

Not modelled, and refused with a clear message rather than guessed: `secure:` values (only the
CLI holds the stack's secrets provider to decrypt them) and ESC `environment:` imports.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

PROJECT_FILE = "Pulumi.yaml"
_TYPES = ("string", "integer", "boolean", "array")
# More digits than any int64/uint64 (20) or float64 (309) holds; also far below Python's
# 4300-digit int() limit, so a longer number is never handed to int().
_MAX_INT_DIGITS = 400


class EngineConfigError(ValueError):
    """The engine would stop here, before the program runs."""


class _GoYamlLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """PyYAML with the implicit types of Go's yaml.v3 (YAML 1.2 core schema) for plain scalars."""


_KEPT = ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")
_GoYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _KEPT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# yaml.v3's resolve(): ints through strconv.ParseInt(text, 0, 64) with underscores removed (so a
# leading 0 is octal), floats by its yamlStyleFloat, booleans in the three spellings of the 1.2
# core schema. Timestamps are not resolved: into an `any` yaml.v3 keeps them as strings.
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        "tag:yaml.org,2002:int",
        r"^[-+]?(?:[0-9_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+)$",
        "-+0123456789",
    ),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
):
    _GoYamlLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _go_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | float | str:
    written = str(loader.construct_scalar(node))
    text = written.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    if len(digits) > _MAX_INT_DIGITS:
        # Beyond uint64 and float64 alike (and Python's int() limit): ParseFloat's range error
        # makes resolve() keep the scalar as the string it was written as.
        return written
    try:
        if digits[:2] in ("0o", "0x", "0b"):
            number = sign * int(digits[2:], {"0o": 8, "0x": 16, "0b": 2}[digits[:2]])
        elif len(digits) > 1 and digits.startswith("0"):
            number = sign * int(digits, 8)  # ParseInt's base 0: a leading 0 is octal
        else:
            number = sign * int(digits)
    except ValueError:
        return _go_float_or_text(written)  # "019": not octal, but it matches yamlStyleFloat
    if not -(2**63) <= number < 2**64:
        # beyond int64 and uint64, yaml.v3 falls back to a float (or the text, out of range)
        return _go_float_or_text(written)
    return number


def _go_float_or_text(written: str) -> float | str:
    """resolve()'s `strconv.ParseFloat`: a float, or (a range error) the scalar's own text."""
    try:
        number = float(written.replace("_", ""))
    except ValueError:
        return written
    return number if math.isfinite(number) else written


def _go_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float | str:
    written = str(loader.construct_scalar(node))
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    if written.lower() in special:
        return special[written.lower()]  # resolveMap's spellings
    return _go_float_or_text(written)


_GoYamlLoader.add_constructor("tag:yaml.org,2002:int", _go_int)
_GoYamlLoader.add_constructor("tag:yaml.org,2002:float", _go_float)


def _go_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    # yaml.v3 refuses a key written twice in one mapping (decode.go: `mapping key %#v already
    # defined at line %d`); PyYAML keeps the last value, which would deploy the wrong one.
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"mapping key {key!r} already defined at line {seen[key]}",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node)  # type: ignore[no-any-return]


_GoYamlLoader.add_constructor("tag:yaml.org,2002:map", _go_mapping)


def load_yaml(path: Path) -> Any:
    """A YAML file as the Pulumi CLI reads it (see `_GoYamlLoader`)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        # yaml.v3's reader refuses the same bytes ("invalid leading UTF-8 octet").
        raise EngineConfigError(
            f"could not read {path.name}: not UTF-8 (byte 0x{error.object[error.start]:02x} at "
            f"offset {error.start}); save it as UTF-8"
        ) from None
    except OSError as error:
        raise EngineConfigError(f"could not read {path.name}: {error.strerror}") from None
    loader = _GoYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliasing(node)
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise EngineConfigError(f"could not read {path.name}: {error}") from None
    except _ExcessiveAliasing:
        raise EngineConfigError(
            f"could not read {path.name}: document contains excessive aliasing"
        ) from None
    except RecursionError:
        raise EngineConfigError(f"could not read {path.name}: nested too deeply") from None
    finally:
        loader.dispose()


class _ExcessiveAliasing(Exception):
    pass


# yaml.v3's defence against alias bombs (go-yaml/yaml decode.go, `allowedAliasRatio` and the
# check at the top of `decoder.unmarshal`): every node the decoder visits is one decode, those
# reached through an alias also count as alias decodes, and once there are more than 100 alias
# decodes and 1000 decodes, a share of alias decodes above 99% (documents up to 400,000
# decodes), falling linearly to 10% (4,000,000 decodes and more), fails with "document contains
# excessive aliasing". PyYAML shares an aliased node instead of copying it, so the file loads
# at once, but rendering it as the engine does (go_json) would expand every alias.
_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


def _check_aliasing(root: yaml.Node) -> None:
    """Walk the document in order as yaml.v3's decoder does, counting its decodes.

    An alias is a second visit to a node PyYAML's composer already produced (its anchor comes
    first in the document, so the first visit is the anchored node itself).
    """
    seen: set[int] = set()
    decodes = aliases = 0
    # (node, inside an alias): iterative, so a deep document cannot exhaust the stack here.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, in_alias = stack.pop()
        if id(node) in seen:
            in_alias = True
        seen.add(id(node))
        decodes += 1
        if in_alias:
            aliases += 1
        if aliases > 100 and decodes > 1000 and aliases / decodes > _allowed_alias_ratio(decodes):
            raise _ExcessiveAliasing
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        stack.extend((child, in_alias) for child in reversed(children))


def read_project(project_dir: Path) -> dict[str, Any]:
    path = project_dir / PROJECT_FILE
    if not path.is_file():
        raise EngineConfigError(f"no {PROJECT_FILE} in {project_dir}")
    document = load_yaml(path)
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise EngineConfigError(f"{PROJECT_FILE} is missing a non-empty string 'name' attribute")
    return document


def read_stack_config(project_dir: Path, stack: str) -> dict[str, Any]:
    """The `config:` block of Pulumi.<stack>.yaml, as written."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        stacks = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml")
        )
        raise EngineConfigError(
            f"no stack file {path.name} (stacks: {', '.join(stacks) or 'none'})"
        )
    document = load_yaml(path) or {}
    if not isinstance(document, dict):
        raise EngineConfigError(f"{path.name} must be a mapping with a `config:` block")
    if document.get("environment"):
        raise EngineConfigError(
            f"{path.name} imports ESC environments; their values are resolved by Pulumi Cloud, "
            "which this model does not reach: set the values in the stack file"
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise EngineConfigError(f"{path.name}: `config:` must be a mapping of keys to values")
    return config


def engine_config_values(project_dir: Path, stack: str) -> dict[str, str]:
    """What the program of `project_dir` is handed for `stack`: "namespace:key" -> text."""
    return engine_config(read_project(project_dir), stack, read_stack_config(project_dir, stack))


def engine_config(
    project: Mapping[str, Any], stack: str, stack_config: Mapping[str, Any]
) -> dict[str, str]:
    """mergeConfig + validateStackConfigValues + the text the language host receives."""
    name = str(project["name"])
    declared = _declared(project)
    merged: dict[str, Any] = {}
    for raw_key, value in stack_config.items():
        key = _parse_key(str(raw_key))
        if _is_secure(value):
            raise EngineConfigError(
                f"Stack '{stack}': {key} is encrypted (secure:); only the Pulumi CLI can decrypt "
                "it with the stack's secrets provider. Local mode and the tests cannot: keep "
                "secrets out of the settings they need"
            )
        merged[key] = value
    missing = []
    for short in sorted(declared):
        spec = declared[short]
        key = _full_key(name, short)
        if key in merged:
            continue
        if "value" in spec or "default" in spec:
            merged[key] = _create_config_value(
                spec["default"] if "default" in spec else spec["value"]
            )
            continue
        if key.split(":", 1)[0] == name:
            missing.append(short)
    if missing:
        plural = "values" if len(missing) > 1 else "value"
        raise EngineConfigError(
            f"Stack '{stack}' is missing configuration {plural} {_quoted_list(missing)}"
        )
    texts = {}
    for key, value in merged.items():
        try:
            texts[key] = config_text(value)
        except EngineConfigError as error:
            raise EngineConfigError(
                f"Stack '{stack}' with configuration key '{key}': {error}"
            ) from None
    for short in sorted(declared):
        spec = declared[short]
        key = _full_key(name, short)
        if spec.get("secret"):
            raise EngineConfigError(
                f"validating stack config: Stack '{stack}' with configuration key '{short}' "
                "must be encrypted as it's secret"
            )
        if "type" in spec and key in merged and not _fits(spec, merged[key]):
            raise EngineConfigError(
                f"validating stack config: Stack '{stack}' with configuration key '{short}' "
                f"must be of type '{_type_name(spec)}'"
            )
    return dict(sorted(texts.items()))


def namespace_values(values: Mapping[str, str], namespace: str) -> dict[str, str]:
    """The keys of one namespace, without the prefix."""
    prefix = f"{namespace}:"
    return {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix)}


def _declared(project: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    declared: dict[str, dict[str, Any]] = {}
    for short, spec in (project.get("config") or {}).items():
        # Short-hand syntax (`key: value`) declares a default and no type.
        entry = dict(spec) if isinstance(spec, dict) else {"default": spec}
        kind = entry.get("type")
        if kind is not None and kind not in _TYPES:
            raise EngineConfigError(
                f"{PROJECT_FILE}: config key '{short}' has type '{kind}' "
                f"(Pulumi's project config types: {', '.join(_TYPES)})"
            )
        if kind is not None and "default" in entry and not _fits(entry, entry["default"]):
            raise EngineConfigError(
                f"The default value specified for configuration key '{short}' is not of the "
                f"expected type '{_type_name(entry)}'"
            )
        declared[str(short)] = entry
    return declared


def _full_key(project_name: str, short: str) -> str:
    return short if ":" in short else f"{project_name}:{short}"


def _parse_key(text: str) -> str:
    parts = text.split(":")
    if len(parts) == 2:
        return text
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    raise EngineConfigError(
        f"could not parse {text} as a configuration key "
        "(configuration keys should be of the form `<namespace>:<name>`)"
    )


def _is_secure(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return True
        return any(_is_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_secure(v) for v in value)
    return False


def _fits(spec: Mapping[str, Any], value: Any) -> bool:
    """ValidateConfigValue, applied to the value as the engine holds it (text for scalars)."""
    kind = spec.get("type")
    if kind == "array":
        items = spec.get("items")
        return (
            isinstance(value, list)
            and isinstance(items, dict)
            and all(_fits(items, item) for item in value)
        )
    if isinstance(value, dict | list) or value is None:
        return False
    text = config_text(value)
    if kind == "integer":
        # strconv.Atoi: ASCII digits into Go's 64-bit int; the length check comes first, as
        # Python's int() refuses text of more than 4300 digits with a ValueError.
        match = re.fullmatch(r"[+-]?0*([0-9]+)", text)
        return match is not None and len(match[1]) <= 19 and _fits_int64(int(text))
    if kind == "boolean":
        return text in ("true", "false")
    return True


def _fits_int64(number: int) -> bool:
    # strconv.Atoi parses into Go's 64-bit int.
    return -(2**63) <= number < 2**63


def _type_name(spec: Mapping[str, Any]) -> str:
    items = spec.get("items")
    if isinstance(items, dict):
        return f"array<{_type_name(items)}>"
    return str(spec.get("type"))


def _quoted_list(keys: list[str]) -> str:
    # formatMissingKeys: 'a', 'b' and 'c'
    quoted = [f"'{key}'" for key in sorted(keys)]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _create_config_value(value: Any) -> Any:
    """createConfigValue: a primitive default becomes Go's `%v` text; arrays/objects stay JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_v_float(value)
    return value


def _go_v_float(number: float) -> str:
    # fmt's %v is %g with the shortest digits: scientific when the exponent is < -4 or >= 6.
    if not math.isfinite(number):
        return {math.inf: "+Inf", -math.inf: "-Inf"}.get(number, "NaN")
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    mantissa, exponent = _shortest_scientific(number)
    if exponent < -4 or exponent >= 6:
        return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return _positional(number)


def config_text(value: Any) -> str:
    """A value as the language host receives it: strings as written, the rest Go's JSON."""
    if isinstance(value, str):
        return value
    return go_json(value)


def go_json(value: Any) -> str:
    """Go's encoding/json.Marshal: compact, map keys sorted, HTML characters escaped."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            text = text.replace(char, escape)
        return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, list):
        return "[" + ",".join(go_json(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{go_json(k)}:{go_json(v)}" for k, v in items) + "}"
    raise EngineConfigError(f"a config value of type {type(value).__name__} cannot be passed")


def _go_json_float(number: float) -> str:
    if not math.isfinite(number):
        raise EngineConfigError(f"json: unsupported value: {number} (config values must be finite)")
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    # encoding/json: the shortest digits, positional unless |x| < 1e-6 or |x| >= 1e21.
    if 1e-6 <= abs(number) < 1e21:
        return _positional(number)
    mantissa, exponent = _shortest_scientific(number)
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent)}"


def _positional(number: float) -> str:
    return format(Decimal(repr(number)).normalize(), "f")


def _shortest_scientific(number: float) -> tuple[str, int]:
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    mantissa = text[0] + (f".{text[1:]}" if len(text) > 1 else "")
    return ("-" if sign else "") + mantissa, exponent + len(text) - 1
