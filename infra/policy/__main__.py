"""Serve the policy pack to the Pulumi engine (`pulumi preview --policy-pack infra/policy`)."""

from pulumi_policy import PolicyPack

from infra.policy.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES)
