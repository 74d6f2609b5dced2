"""Deterministic names: valid for SageMaker, the same for the same inputs, new for new inputs."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from infra.naming import (
    SAGEMAKER_NAME,
    content_hash,
    endpoint_name,
    resource_tags,
    sagemaker_prefix,
    training_job_name,
)
from infra.storage import BUCKET_PREFIX_MAX, bucket_prefix

INPUTS: dict[str, Any] = {
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/t@sha256:" + "a" * 64,
    "data_version": "432ff316e7bfb60b",
    "hyperparameters": {"target": "target", "C": "1.0"},
    "instance_type": "ml.m5.large",
}


@given(st.text(min_size=0, max_size=80), st.text(min_size=0, max_size=80))
def test_training_job_names_are_always_valid(project: str, stack: str) -> None:
    name = training_job_name(project, stack, INPUTS)
    assert SAGEMAKER_NAME.match(name)
    assert len(name) <= 63


@given(st.text(max_size=80), st.text(max_size=80))
def test_endpoint_names_are_always_valid(project: str, stack: str) -> None:
    assert SAGEMAKER_NAME.match(endpoint_name(project, stack))


def test_same_inputs_same_name_in_any_key_order() -> None:
    reordered = dict(reversed(list(INPUTS.items())))
    assert training_job_name("sagestack", "dev", INPUTS) == training_job_name(
        "sagestack", "dev", reordered
    )


def test_each_retraining_input_changes_the_name() -> None:
    base = training_job_name("sagestack", "dev", INPUTS)
    changes = {
        "image": INPUTS["image"].replace("a" * 64, "b" * 64),
        "data_version": "0000000000000000",
        "hyperparameters": {"target": "target", "C": "0.5"},
        "instance_type": "ml.c5.xlarge",
    }
    for key, value in changes.items():
        assert training_job_name("sagestack", "dev", {**INPUTS, key: value}) != base, key


def test_name_reads_as_project_stack_hash() -> None:
    name = training_job_name("sagestack", "prod", INPUTS)
    assert re.fullmatch(r"sagestack-prod-[0-9a-f]{12}", name)
    assert content_hash(INPUTS) == name.rsplit("-", 1)[1]


def test_prefix_keeps_only_letters_digits_and_single_hyphens() -> None:
    assert sagemaker_prefix("my_project", "pr.42") == "my-project-pr-42"
    assert sagemaker_prefix("", "") == "sagestack"


@given(st.text(max_size=80), st.sampled_from(["data", "artifacts", "capture"]))
def test_bucket_prefixes_fit_s3(project: str, role: str) -> None:
    prefix = bucket_prefix(sagemaker_prefix(project, "staging"), role)
    assert len(prefix) <= BUCKET_PREFIX_MAX
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*-", prefix)


def test_tags_name_the_owner() -> None:
    assert resource_tags("sagestack", "dev") == {
        "project": "sagestack",
        "stack": "dev",
        "managed-by": "pulumi",
    }
