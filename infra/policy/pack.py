"""The rules of rules.py as CrossGuard policies, mandatory: a violation fails the preview."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy.rules import RESOURCE_RULES, STACK_RULES, Resource, ResourceRule, StackRule

PACK_NAME = "sagestack-guardrails"


def _resource(resource: ResourceValidationArgs | PolicyResource) -> Resource:
    parent = getattr(resource, "parent", None)
    return Resource(
        type=resource.resource_type,
        urn=resource.urn,
        props=resource.props,
        parent=parent.urn if parent is not None else resource.opts.parent,
        protect=resource.opts.protect,
    )


def _resource_policy(name: str, rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for problem in rule(_resource(args)):
            report(problem, args.urn)

    return ResourceValidationPolicy(
        name=name,
        description=(rule.__doc__ or name).strip().splitlines()[0],
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def _stack_policy(name: str, rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for problem in rule([_resource(r) for r in args.resources]):
            report(problem, problem.split(": ", 1)[0])

    return StackValidationPolicy(
        name=name,
        description=(rule.__doc__ or name).strip().splitlines()[0],
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


POLICIES: list[Any] = [
    *(_resource_policy(name, rule) for name, rule in RESOURCE_RULES.items()),
    *(_stack_policy(name, rule) for name, rule in STACK_RULES.items()),
]
