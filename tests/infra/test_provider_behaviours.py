"""Known pulumi-aws / terraform-provider-aws behaviours the program relies on or works around.

Each test names the provider issue it covers; docs/verification.md ("What is verified here, and
what only AWS can verify") says what happens and how the program handles it. What a test can
hold here is the program's side of each behaviour: the shape of the graph that makes it safe.
"""

from __future__ import annotations

import inspect

import pulumi_aws as aws
import pytest

from infra.training_job import CREATE_TIMEOUT_MARGIN_MINUTES
from sagestack.verify import REQUIRED_OUTPUTS
from tests.infra.conftest import STACKS
from tests.infra.program import Graph, run_program

MODEL = "aws:sagemaker/model:Model"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
ENDPOINT = "aws:sagemaker/endpoint:Endpoint"
TRAINING_JOB = "aws:sagemaker/trainingJob:TrainingJob"


@pytest.mark.parametrize("stack", STACKS)
def test_40048_a_new_configuration_is_created_and_switched_to_before_the_old_goes(
    graphs: dict[str, Graph], stack: str
) -> None:
    """terraform-provider-aws #40048: every input of an endpoint configuration forces a
    replacement; deleting the old one before the endpoint has moved breaks the endpoint. The
    model and the configuration are auto-named (so a replacement has a new name and can exist
    beside the old one), replaced create-before-delete, and the endpoint reads the new name
    from the configuration, so Pulumi updates the endpoint before deleting the old one."""
    graph = graphs[stack]
    model, config, endpoint = graph.one(MODEL), graph.one(CONFIG), graph.one(ENDPOINT)
    for resource in (model, config):
        assert "name" not in resource.inputs, f"{resource.urn}: a fixed name"
        assert not resource.delete_before_replace, f"{resource.urn}: delete-before-replace"
    assert endpoint.inputs["endpointConfigName"] == config.outputs["name"]
    assert config.urn in endpoint.dependencies
    assert {v["modelName"] for v in config.inputs["productionVariants"]} == {model.outputs["name"]}
    assert model.urn in config.dependencies


@pytest.mark.parametrize("stack", STACKS)
def test_46663_verify_compares_the_endpoint_with_the_configuration_deployed(
    graphs: dict[str, Graph], stack: str
) -> None:
    """terraform-provider-aws #46663: a blue/green update that SageMaker rolls back still ends
    InService, and the provider reports success. The stack exports the configuration it
    created, and `verify` (tests/sagestack/test_verify.py runs it against a rolled-back
    endpoint) fails when the endpoint runs any other."""
    assert "endpoint_config_name" in REQUIRED_OUTPUTS
    graph = graphs[stack]
    assert graph.outputs["endpoint_config_name"] == graph.one(CONFIG).outputs["name"]


def test_48990_the_provider_still_cannot_retain_variant_properties() -> None:
    """terraform-provider-aws #48990: UpdateEndpoint is sent without RetainAllVariantProperties.
    When pulumi-aws exposes it, this fails: then set it and revisit the test below."""
    parameters = set(inspect.signature(aws.sagemaker.EndpointArgs.__init__).parameters)
    assert not {p for p in parameters if "retain" in p}, parameters


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_48990_a_new_configuration_resets_to_the_autoscaling_minimum(
    graphs: dict[str, Graph], stack: str
) -> None:
    """...so each new configuration starts the variant at its initialInstanceCount. That count is
    the autoscaling target's minimum: a deployment drops a scaled-out variant to the minimum,
    never below it, and target tracking scales it out again. Nothing the autoscaler changes is
    an input (the endpoint has no instance count, the configuration is never read back from the
    live variant), so there is no drift to ignore and no ignoreChanges."""
    graph = graphs[stack]
    target = graph.one("aws:appautoscaling/target:Target")
    counts = {v["initialInstanceCount"] for v in graph.one(CONFIG).inputs["productionVariants"]}
    assert counts == {target.inputs["minCapacity"]}
    assert not any("instance" in key.lower() for key in graph.one(ENDPOINT).inputs)


@pytest.mark.parametrize(
    ("stack", "overrides"), [("dev", {}), ("prod", {}), ("prod", {"trainingUseSpot": True})]
)
def test_training_job_wait_outlasts_the_longest_job(
    graphs: dict[str, Graph], stack: str, overrides: dict[str, object]
) -> None:
    """aws_sagemaker_training_job (terraform-provider-aws #46892) creates the job and waits until
    it is Completed or Stopped (Failed is an error) within its create timeout, 5 minutes unless
    set. The timeout is the job's longest run (or spot wait) plus a margin for provisioning,
    given both as the resource's `timeouts` and as Pulumi's custom timeout."""
    graph = run_program(stack, overrides) if overrides else graphs[stack]
    job = graph.one(TRAINING_JOB)
    stopping = job.inputs["stoppingCondition"]
    longest = max(stopping["maxRuntimeInSeconds"], stopping.get("maxWaitTimeInSeconds", 0))
    expected = f"{-(-int(longest) // 60) + CREATE_TIMEOUT_MARGIN_MINUTES}m"
    assert job.inputs["timeouts"] == {"create": expected}
    assert job.custom_timeouts == {"create": expected}
    # Everything that uses the artifact waits for the job: the model depends on it.
    assert job.urn in graph.one(MODEL).dependencies
