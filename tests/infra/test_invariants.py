"""Rules every stack's resource graph keeps. A failure names the resource's URN and the rule.

The guardrails that also hold for any Pulumi program (buckets locked down, no wildcard IAM,
isolated training, alarms with endpoint dimensions, rollback outside dev) live in the policy
pack (infra/policy/rules.py) and are run over every stack by test_policy_pack.py; these are the
ones only this program's graph can answer (names, dependencies, resource options).

Each rule is a function from a recorded graph to its violations; the tests run every rule over
every stack (no violations) and over a deliberately broken copy (the rule fires), so that no
rule can pass by checking nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest

from infra.naming import SAGEMAKER_NAME
from tests.conftest import SAMPLE_DATASET
from tests.infra.conftest import STACKS
from tests.infra.program import Graph, Registration, run_program

Rule = Callable[[Graph], list[str]]
BUCKET = "aws:s3/bucket:Bucket"


def training_job_name_valid(graph: Graph) -> list[str]:
    return [
        f"{job.urn}: training job name {job.inputs['trainingJobName']!r} is not valid for SageMaker"
        for job in graph.of_type("aws:sagemaker/trainingJob:TrainingJob")
        if not SAGEMAKER_NAME.match(job.inputs["trainingJobName"])
    ]


def model_depends_on_training(graph: Graph) -> list[str]:
    jobs = {job.urn for job in graph.of_type("aws:sagemaker/trainingJob:TrainingJob")}
    return [
        f"{model.urn}: the model must depend on the training job that produced its artifact"
        for model in graph.of_type("aws:sagemaker/model:Model")
        if not jobs & set(model.dependencies)
    ]


def _data_bucket_roles(graph: Graph) -> dict[str, Registration]:
    return {b.inputs["tags"]["data-role"]: b for b in graph.of_type(BUCKET)}


def buckets_survive_destroy_as_configured(graph: Graph) -> list[str]:
    """prod: data and artifacts protected and retained, with everything that keeps them safe.
    dev: force-destroyed and not retained, so `pulumi destroy` leaves nothing behind."""
    problems = []
    buckets = _data_bucket_roles(graph)
    if graph.stack == "prod":
        for role in ("data", "artifacts"):
            bucket = buckets[role]
            kept = [bucket, *(r for r in graph.resources if r.parent == bucket.parent)]
            for resource in kept:
                if not (resource.protect and resource.retain_on_delete):
                    problems.append(f"{resource.urn}: prod {role} must be protected and retained")
            if bucket.inputs.get("forceDestroy"):
                problems.append(f"{bucket.urn}: prod {role} bucket must not be force-destroyed")
        for key in graph.of_type("aws:kms/key:Key"):
            if not key.retain_on_delete:
                problems.append(f"{key.urn}: the key of retained buckets must be retained too")
    if graph.stack == "dev":
        for role, bucket in buckets.items():
            if bucket.inputs.get("forceDestroy") is not True or bucket.retain_on_delete:
                problems.append(f"{bucket.urn}: dev {role} bucket must be force-destroyed")
    return problems


def endpoint_follows_new_models(graph: Graph) -> list[str]:
    problems = []
    for type_ in (
        "aws:sagemaker/model:Model",
        "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    ):
        for resource in graph.of_type(type_):
            if "name" in resource.inputs or resource.delete_before_replace:
                problems.append(
                    f"{resource.urn}: must be auto-named and replaced create-before-delete"
                )
    return problems


def no_autoscaling_on_serverless(graph: Graph) -> list[str]:
    serverless = any(
        "serverlessConfig" in variant
        for config in graph.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
        for variant in config.inputs["productionVariants"]
    )
    if not serverless:
        return []
    return [
        f"{target.urn}: serverless endpoints scale by themselves; no autoscaling target"
        for target in graph.of_type("aws:appautoscaling/target:Target")
    ]


RULES: dict[str, Rule] = {
    rule.__name__: rule
    for rule in (
        training_job_name_valid,
        model_depends_on_training,
        buckets_survive_destroy_as_configured,
        endpoint_follows_new_models,
        no_autoscaling_on_serverless,
    )
}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_stack_keeps_every_rule(graphs: dict[str, Graph], stack: str, rule: str) -> None:
    assert RULES[rule](graphs[stack]) == []


Breakage = Callable[[Graph], None]


def _first(type_: str, change: Callable[[Registration], object]) -> Breakage:
    """Break the first resource of `type_` in the graph with `change`."""

    def breakage(graph: Graph) -> None:
        change(graph.of_type(type_)[0])

    return breakage


def _set_input(key: str, value: object) -> Callable[[Registration], None]:
    def change(resource: Registration) -> None:
        resource.inputs[key] = value

    return change


def _unprotect(resource: Registration) -> None:
    resource.protect = False


def _unprotect_data_bucket(graph: Graph) -> None:
    # By role, not position: registrations arrive in no fixed order, and the first bucket is
    # sometimes the capture bucket, which prod does not protect.
    _unprotect(_data_bucket_roles(graph)["data"])


def _scale_dev(graph: Graph) -> None:
    # A resource the graph must not have: a scaling target for a serverless endpoint.
    target = copy.deepcopy(graph.one("aws:sagemaker/endpoint:Endpoint"))
    target.type = "aws:appautoscaling/target:Target"
    target.urn = target.urn.replace("aws:sagemaker/endpoint:Endpoint", target.type)
    graph.resources.append(target)


BREAKAGES: dict[str, tuple[str, Breakage]] = {
    "training_job_name_valid": (
        "dev",
        _first(
            "aws:sagemaker/trainingJob:TrainingJob",
            _set_input("trainingJobName", "sagestack_dev_1"),
        ),
    ),
    "model_depends_on_training": (
        "dev",
        _first("aws:sagemaker/model:Model", lambda model: setattr(model, "dependencies", [])),
    ),
    "buckets_survive_destroy_as_configured": ("prod", _unprotect_data_bucket),
    "endpoint_follows_new_models": (
        "dev",
        _first(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            _set_input("name", "sagestack-dev-config"),
        ),
    ),
    "no_autoscaling_on_serverless": ("dev", _scale_dev),
}


def test_every_rule_has_a_breakage() -> None:
    assert sorted(BREAKAGES) == sorted(RULES)


@pytest.mark.parametrize("rule", sorted(BREAKAGES))
def test_a_broken_resource_is_named(graphs: dict[str, Graph], rule: str) -> None:
    stack, breakage = BREAKAGES[rule]
    broken = copy.deepcopy(graphs[stack])
    breakage(broken)
    problems = RULES[rule](broken)
    assert problems, rule
    assert all(problem.startswith("urn:pulumi:") for problem in problems)


# --- the training job name is deterministic and follows what should retrain --------------------


def _job_name(overrides: dict[str, object] | None = None) -> str:
    name: str = run_program("dev", overrides).outputs["training_job_name"]
    return name


def test_same_inputs_same_job_and_nothing_retrains(graphs: dict[str, Graph]) -> None:
    assert _job_name() == graphs["dev"].outputs["training_job_name"]


def test_new_data_image_or_hyperparameters_retrain(
    graphs: dict[str, Graph], tmp_path: Path
) -> None:
    base = graphs["dev"].outputs["training_job_name"]
    changed_data = tmp_path / "data.csv"
    changed_data.write_text(SAMPLE_DATASET.read_text() + "\n")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/t@sha256:" + "3" * 64
    other_image = image.replace("3" * 64, "4" * 64)
    names = {
        "data": _job_name({"dataPath": str(changed_data)}),
        "hyperparameters": _job_name({"hyperparameters": '{"C": 0.5}'}),
        "instance": _job_name({"trainingInstanceType": "ml.c5.xlarge"}),
        "image": _job_name({"trainingImageUri": image}),
        "other image": _job_name({"trainingImageUri": other_image}),
    }
    assert len(set(names.values()) | {base}) == len(names) + 1, names
    # Serving-only settings do not retrain.
    assert _job_name({"serverlessMemoryMb": 4096, "logRetentionDays": 14}) == base
