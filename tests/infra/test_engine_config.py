"""The engine's config step (infra/engine_config.py), behaviour by behaviour, on copies of the
project's files; and every shipped stack through it, as `pulumi up` hands it to the program.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from infra.config import KEYS, ConfigError, load_stack_config, parse_config
from infra.engine_config import EngineConfigError, engine_config_values, go_json, namespace_values
from tests.conftest import REPO
from tests.infra.conftest import STACKS
from tests.infra.program import Graph, run, run_program, stack_config
from tests.infra.test_snapshots import snapshot


def _project(tmp_path: Path, stack_lines: str, edit_project: object = None) -> Path:
    """A copy of Pulumi.yaml (optionally edited) and a stack `qa` holding `stack_lines`."""
    project = tmp_path / "project"
    project.mkdir(parents=True)
    shutil.copy(REPO / "Pulumi.yaml", project)
    if callable(edit_project):
        document = yaml.safe_load((project / "Pulumi.yaml").read_text())
        edit_project(document)
        (project / "Pulumi.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    (project / "Pulumi.qa.yaml").write_text(f"config:\n{stack_lines}")
    return project


def _engine(tmp_path: Path, stack_lines: str, edit_project: object = None) -> dict[str, str]:
    return engine_config_values(_project(tmp_path, stack_lines, edit_project), "qa")


# The bug this module exists for: on main, every shipped stack failed here (dev:
# "endpointInstanceCount needs endpointInstanceType", staging and prod: "endpointInstanceType and
# ['serverlessMemoryMb', 'serverlessMaxConcurrency'] are exclusive"), because the program gave
# meaning to which keys were written, and the engine writes them all.
@pytest.mark.parametrize("stack", STACKS)
def test_every_shipped_stack_passes_as_the_engine_hands_it_over(stack: str) -> None:
    values = engine_config_values(REPO, stack)
    assert {f"sagestack:{key.name}" for key in KEYS} <= set(values)
    assert all(isinstance(value, str) for value in values.values())
    assert values["aws:region"] == "us-east-1"
    config = parse_config(namespace_values(values, "sagestack"))
    assert config == load_stack_config(REPO, stack)


@pytest.mark.parametrize("stack", STACKS)
def test_the_harness_runs_the_program_with_the_engines_config(stack: str) -> None:
    given = stack_config(stack)
    assert given == engine_config_values(REPO, stack)
    # Every declared key is given, as the engine gives it: presence can mean nothing.
    assert {f"sagestack:{key.name}" for key in KEYS} <= set(given)


def test_project_defaults_are_merged_under_stack_values_as_text(tmp_path: Path) -> None:
    values = _engine(tmp_path, "  sagestack:trainingVolumeGb: 20\n")
    assert values["sagestack:trainingVolumeGb"] == "20"  # the stack's value wins
    assert values["sagestack:trainingMaxRuntimeSeconds"] == "3600"  # integer default
    assert values["sagestack:trainingUseSpot"] == "false"  # boolean default
    assert values["sagestack:dataVersion"] == ""  # empty string default, still given
    assert values["sagestack:hyperparameters"] == "{}"


@pytest.mark.parametrize(
    ("line", "text"),
    [
        ("sagestack:endpointInstanceCount: 2", "2"),
        ("sagestack:trainingVolumeGb: 10.0", "10"),  # Go's JSON renders the float 10.0 as 10
        ("sagestack:trainingUseSpot: true", "true"),
        ("sagestack:trainingUseSpot: True", "true"),
        ('sagestack:trainingUseSpot: "true"', "true"),
        ("sagestack:minF1: 0.95", "0.95"),
        ('sagestack:minF1: "0.950"', "0.950"),  # strings as written
        ("sagestack:dataVersion: 1.10", "1.1"),  # an unquoted version is a float
        ("sagestack:dataVersion: 1e3", "1000"),  # YAML 1.2 float; PyYAML's 1.1 says string
        ("sagestack:dataVersion: 0x1F", "31"),
        ("sagestack:dataVersion: 017", "15"),  # strconv.ParseInt(s, 0, 64): octal
        ("sagestack:dataVersion: 1_000", "1000"),
        ("sagestack:dataVersion: 2024-01-31", "2024-01-31"),  # yaml.v3 keeps it a string
        ("sagestack:dataVersion: yes", "yes"),  # YAML 1.2: a string, not a boolean
        ("sagestack:dataVersion: 1:20", "1:20"),  # no sexagesimal numbers in YAML 1.2
        ("sagestack:target: label", "label"),
    ],
)
def test_stack_values_are_rendered_as_the_engine_renders_them(
    tmp_path: Path, line: str, text: str
) -> None:
    key = line.split(":")[0] + ":" + line.split(":")[1]
    assert _engine(tmp_path, f"  {line}\n")[key] == text


def test_other_namespaces_pass_through_arrays_and_objects_as_json(tmp_path: Path) -> None:
    values = _engine(
        tmp_path,
        "  aws:region: eu-west-1\n"
        "  aws:defaultTags:\n    tags:\n      team: ml\n      cost: <a&b>\n"
        "  aws:allowedAccountIds: [123, '456']\n"
        "  pulumi:disable-default-providers: ['*']\n",
    )
    assert values["aws:region"] == "eu-west-1"
    assert values["aws:defaultTags"] == '{"tags":{"cost":"\\u003ca\\u0026b\\u003e","team":"ml"}}'
    assert values["aws:allowedAccountIds"] == '[123,"456"]'
    assert values["pulumi:disable-default-providers"] == '["*"]'


def test_the_old_namespace_config_name_form_is_the_same_key(tmp_path: Path) -> None:
    assert _engine(tmp_path, '  sagestack:config:minF1: "0.9"\n')["sagestack:minF1"] == "0.9"


def test_a_key_written_twice_fails_as_yaml_v3_fails(tmp_path: Path) -> None:
    """PyYAML alone keeps the last of two values; the Pulumi CLI's YAML library refuses both."""
    lines = "  sagestack:logRetentionDays: 7\n  sagestack:logRetentionDays: 30\n"
    with pytest.raises(EngineConfigError, match="'sagestack:logRetentionDays' already defined"):
        _engine(tmp_path, lines)


def test_merge_keys_may_still_be_overridden(tmp_path: Path) -> None:
    lines = "  aws:tags:\n    <<: {team: a}\n    team: b\n"
    assert _engine(tmp_path, lines)["aws:tags"] == '{"team":"b"}'


@pytest.mark.parametrize("key", ["minF1", "a:b:c"])
def test_a_key_without_a_namespace_fails_as_the_engine_fails(tmp_path: Path, key: str) -> None:
    with pytest.raises(EngineConfigError, match=f"could not parse {key} as a configuration key"):
        _engine(tmp_path, f'  {key}: "0.9"\n')


def test_an_undeclared_project_key_reaches_the_program_which_rejects_it(tmp_path: Path) -> None:
    # Today's engine passes it through (its check was removed with pulumi/pulumi#11192) ...
    project = _project(tmp_path, "  sagestack:endpointInstanceTyp: ml.m5.large\n")
    assert engine_config_values(project, "qa")["sagestack:endpointInstanceTyp"] == "ml.m5.large"
    # ... so the program must fail on it, naming the key it resembles, not deploy serverless.
    with pytest.raises(ConfigError, match="did you mean endpointInstanceType"):
        load_stack_config(project, "qa")


def test_the_program_rejects_an_undeclared_key_under_the_engine_too() -> None:
    # run_program hands the program what the engine would; load_from_pulumi reads every
    # sagestack: key it was given, not only the declared ones.
    with pytest.raises(ConfigError, match="sagestack:endpointInstanceTyp is not declared"):
        run_program("dev", {"endpointInstanceTyp": "ml.m5.large"})


@pytest.mark.parametrize(
    ("line", "key", "kind"),
    [
        ("sagestack:trainingVolumeGb: ten", "trainingVolumeGb", "integer"),
        ("sagestack:trainingVolumeGb: 2.5", "trainingVolumeGb", "integer"),
        ('sagestack:trainingVolumeGb: " 20"', "trainingVolumeGb", "integer"),
        ("sagestack:trainingUseSpot: yes", "trainingUseSpot", "boolean"),
        ("sagestack:trainingUseSpot: 1", "trainingUseSpot", "boolean"),
        ("sagestack:dataPath: [a.csv, b.csv]", "dataPath", "string"),
        ("sagestack:target: {name: y}", "target", "string"),
    ],
)
def test_a_value_of_the_wrong_declared_type_fails(
    tmp_path: Path, line: str, key: str, kind: str
) -> None:
    message = (
        f"validating stack config: Stack 'qa' with configuration key '{key}' must be of type "
        f"'{kind}'"
    )
    with pytest.raises(EngineConfigError, match=message.replace("(", r"\(")):
        _engine(tmp_path, f"  {line}\n")


def _drop_defaults(*names: str) -> object:
    def edit(document: dict[str, dict[str, dict[str, object]]]) -> None:
        for name in names:
            del document["config"][name]["default"]

    return edit


def test_a_declared_key_without_a_default_must_be_set(tmp_path: Path) -> None:
    with pytest.raises(
        EngineConfigError, match=r"^Stack 'qa' is missing configuration value 'target'$"
    ):
        _engine(tmp_path, "  aws:region: us-east-1\n", _drop_defaults("target"))
    with pytest.raises(
        EngineConfigError,
        match=r"^Stack 'qa' is missing configuration values 'algorithm', 'dataPath' and 'target'$",
    ):
        _engine(tmp_path / "b", "", _drop_defaults("target", "dataPath", "algorithm"))
    # Set in the stack, it is fine.
    values = _engine(tmp_path / "c", "  sagestack:target: label\n", _drop_defaults("target"))
    assert values["sagestack:target"] == "label"


def test_a_default_of_the_wrong_type_fails_when_the_project_loads(tmp_path: Path) -> None:
    def edit(document: dict[str, dict[str, dict[str, object]]]) -> None:
        document["config"]["trainingVolumeGb"]["default"] = "ten"

    with pytest.raises(EngineConfigError, match="configuration key 'trainingVolumeGb' is not of"):
        _engine(tmp_path, "", edit)


def test_short_hand_project_config_declares_an_untyped_default(tmp_path: Path) -> None:
    def edit(document: dict[str, dict[str, object]]) -> None:
        document["config"]["extraThing"] = 1000000.0

    values = _engine(tmp_path, "", edit)
    assert values["sagestack:extraThing"] == "1e+06"  # createConfigValue's %v, not JSON


@pytest.mark.parametrize(
    "line",
    ["sagestack:alarmHttpsUrl:\n    secure: v1:abc", "aws:secretKey:\n    secure: v1:abc"],
)
def test_secure_values_are_refused_clearly(tmp_path: Path, line: str) -> None:
    key = line.split("\n")[0].rstrip(":")
    with pytest.raises(EngineConfigError, match=f"{key} is encrypted \\(secure:\\); only the"):
        _engine(tmp_path, f"  {line}\n")


def test_esc_environments_are_refused_clearly(tmp_path: Path) -> None:
    project = _project(tmp_path, "  aws:region: us-east-1\n")
    (project / "Pulumi.qa.yaml").write_text("environment:\n  - shared\nconfig: {}\n")
    with pytest.raises(EngineConfigError, match="imports ESC environments"):
        engine_config_values(project, "qa")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (1.0, "1"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (0.00001, "0.00001"),
        (-0.0, "-0"),
        ({"b": [1, None, True], "a": "é"}, '{"a":"é","b":[1,null,true]}'),
    ],
)
def test_values_are_json_as_go_writes_it(value: object, text: str) -> None:
    assert go_json(value) == text


def test_a_setting_the_endpoint_shape_ignores_is_logged_by_the_program(
    graphs: dict[str, Graph], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        graph = run_program("dev", {"endpointInstanceCount": 3})
    assert any(
        "sagestack:endpointInstanceCount=3 is ignored: endpointInstanceType is empty"
        in record.message
        for record in caplog.records
    ), [record.message for record in caplog.records]
    assert snapshot(graph) == snapshot(graphs["dev"])  # and it changes nothing


def test_local_mode_reads_the_same_config_and_says_what_it_ignores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sagestack.local import LocalError, run

    project = _project(
        tmp_path, "  sagestack:endpointInstanceCount: 3\n  sagestack:dataPath: qa/rows.csv\n"
    )
    data = project / load_stack_config(project, "qa").training.data_path
    # The stack's data file is not there: local mode stops after reading the config.
    with pytest.raises(LocalError, match=f"^no data file {re.escape(str(data))}$"):
        run("qa", None, 8080, True, project, tmp_path / "runs")
    assert "warning: sagestack:endpointInstanceCount=3 is ignored" in capsys.readouterr().err
    (project / "Pulumi.qa.yaml").write_text("config:\n  sagestack:trainingUseSpot: yes\n")
    with pytest.raises(LocalError, match="'trainingUseSpot' must be of type 'boolean'"):
        run("qa", None, 8080, True, project, tmp_path / "runs")


def _stack_file(tmp_path: Path, content: bytes) -> Path:
    project = _project(tmp_path, "")
    (project / "Pulumi.qa.yaml").write_bytes(content)
    return project


def _alias_bomb(levels: int = 8) -> bytes:
    # 10**levels items once every alias is expanded, from a file of a few hundred bytes.
    lines = ["config:", "  sagestack:l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels + 1):
        ref = f"*l{level - 1}"
        lines.append(f"  sagestack:l{level}: &l{level} [{', '.join([ref] * 10)}]")
    return ("\n".join(lines) + "\n").encode()


def test_an_alias_bomb_fails_fast_as_yaml_v3_fails(tmp_path: Path) -> None:
    project = _stack_file(tmp_path, _alias_bomb())
    started = time.monotonic()
    with pytest.raises(
        ConfigError, match=r"Pulumi\.qa\.yaml: document contains excessive aliasing"
    ):
        load_stack_config(project, "qa")
    assert time.monotonic() - started < 1


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    project = _stack_file(
        tmp_path,
        b"config:\n  aws:region: &r us-east-1\n  aws:tags: {a: *r, b: *r}\n",
    )
    assert engine_config_values(project, "qa")["aws:tags"] == '{"a":"us-east-1","b":"us-east-1"}'


@pytest.mark.parametrize("name", ["Pulumi.qa.yaml", "Pulumi.yaml"])
def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, name: str) -> None:
    project = _stack_file(tmp_path, b"config:\n  sagestack:target: \xff\n")
    if name == "Pulumi.yaml":
        (project / "Pulumi.qa.yaml").write_text("config: {}\n")
        (project / name).write_bytes((project / name).read_bytes() + b"# \xfe\n")
    with pytest.raises(ConfigError, match=f"could not read {re.escape(name)}: not UTF-8"):
        load_stack_config(project, "qa")


def test_deep_nesting_in_a_stack_file_is_a_clear_error(tmp_path: Path) -> None:
    project = _stack_file(tmp_path, b"config:\n  aws:x: " + b"[" * 5000 + b"]" * 5000 + b"\n")
    with pytest.raises(ConfigError, match=r"Pulumi\.qa\.yaml: nested too deeply"):
        load_stack_config(project, "qa")


@pytest.mark.parametrize("key", ["trainingVolumeGb", "logRetentionDays", "minF1"])
def test_a_5000_digit_number_is_an_error_naming_the_key(tmp_path: Path, key: str) -> None:
    project = _stack_file(tmp_path, f"config:\n  sagestack:{key}: {'9' * 5000}\n".encode())
    with pytest.raises(ConfigError, match=f"'?{key}'?") as raised:
        load_stack_config(project, "qa")
    assert len(str(raised.value)) < 1000


def test_a_number_beyond_float64_stays_the_text_yaml_v3_keeps(tmp_path: Path) -> None:
    values = _engine(tmp_path, f"  sagestack:dataVersion: {'9' * 5000}\n  aws:x: 1e400\n")
    assert values["sagestack:dataVersion"] == "9" * 5000
    assert values["aws:x"] == "1e400"
    assert _engine(tmp_path / "b", f"  aws:x: {'9' * 30}\n")["aws:x"] == "1e+30"


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_a_non_finite_stack_value_names_its_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(EngineConfigError, match="configuration key 'sagestack:minF1': json: "):
        _engine(tmp_path, f"  sagestack:minF1: {value}\n")


def test_the_program_rejects_a_misspelt_namespace_under_the_engine_too() -> None:
    from infra.config import load_from_pulumi

    def program() -> None:
        load_from_pulumi()

    values = {**stack_config("dev"), "Sagestack:minF1": "0.99"}
    with pytest.raises(ConfigError, match="namespace Sagestack: is not sagestack:"):
        run(program, "dev", values)
