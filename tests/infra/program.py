"""Run the Pulumi program the way the engine does, under recording mocks, without the CLI.

`Pulumi.yaml`'s `main: infra/` makes the engine start the Python language host with `infra/` as
the working directory and the program `.`, which it runs with `runpy.run_path(".")` (so `infra/`
is first on sys.path). `run_program` does exactly that, with the config the engine would hand
the program (infra.engine_config: Pulumi.yaml's defaults merged under the stack file, checked
and rendered to text as the engine does), and records every registration: type, name, parent,
inputs and the resource options the engine sees.

Two modes, as the engine has them:
- `up` (preview=False): the mocks answer what AWS would compute (ARNs, names, digests), derived
  from the inputs only;
- a first `preview` (preview=True): nothing exists yet, so a provider answers a create with its
  inputs only and every computed output is unknown (the SDK marks them so: rpc.py
  `resolve_properties` resolves an output as known only if the engine returned a value for it,
  and an empty id as unknown). Apply callbacks over unknown values do not run.
In both modes, a resource constructed while an `apply()` callback runs is recorded in
`Graph.created_in_apply`: such a resource is missing from previews, which is why the program
must never do it.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import runpy
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import UNKNOWN
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.engine_config import engine_config, read_project, read_stack_config
from tests.conftest import REPO

PROJECT = "sagestack"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass
class Registration:
    """One resource as the engine saw it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    # What the mocks answered: the inputs plus what AWS would compute (ARNs, names).
    outputs: dict[str, Any]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: list[str]
    custom_timeouts: dict[str, str]
    # The alias specs sent (name, type, parentUrn; empty means "the same as now").
    aliases: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Graph:
    """Everything one run of the program registered, and its stack outputs."""

    stack: str
    preview: bool = False
    resources: list[Registration] = field(default_factory=list)
    # Stack outputs; an unknown one (preview) is a pulumi.output.Unknown.
    outputs: dict[str, Any] = field(default_factory=dict)
    # "type name" of every resource constructed inside an apply() callback, with where.
    created_in_apply: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.urn for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def ancestors(self, resource: Registration) -> list[Registration]:
        chain = []
        while resource.parent and any(r.urn == resource.parent for r in self.resources):
            resource = self.by_urn(resource.parent)
            chain.append(resource)
        return chain


def _fake_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _Mocks(pulumi_mocks.Mocks):
    """Gives each resource the outputs AWS would compute, derived from its inputs only."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        suffix = _fake_digest(f"{args.typ}:{args.name}")[:7]
        kind = args.typ
        if kind == "aws:s3/bucket:Bucket":
            state["bucket"] = f"{args.inputs['bucketPrefix']}{suffix}"
            state["arn"] = f"arn:aws:s3:::{state['bucket']}"
            return state["bucket"], state
        if kind == "aws:kms/key:Key":
            state["keyId"] = f"key-{suffix}"
            state["arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/key-{suffix}"
        elif kind == "aws:iam/role:Role":
            state["name"] = f"{args.name}-{suffix}"
            state["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{state['name']}"
        elif kind == "aws:ecr/repository:Repository":
            state["name"] = f"{args.name}-{suffix}"
            state["registryId"] = ACCOUNT_ID
            state["repositoryUrl"] = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{state['name']}"
            state["arn"] = f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{state['name']}"
        elif kind == "docker-build:index:Image":
            tag = args.inputs["tags"][0]
            state["digest"] = f"sha256:{_fake_digest(tag)}"
            state["ref"] = f"{tag.rsplit(':', 1)[0]}@{state['digest']}"
        elif kind in (
            "aws:sagemaker/model:Model",
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
        ):
            # Auto-named, as Pulumi does: the logical name and a random suffix.
            state["name"] = f"{args.name}-{suffix}"
            state["arn"] = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:x/{state['name']}"
        elif kind == "aws:sagemaker/endpoint:Endpoint":
            state["arn"] = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:endpoint/{state['name']}"
        elif kind == "aws:cloudwatch/eventConnection:EventConnection":
            state["name"] = f"{args.name}-{suffix}"
            state["arn"] = (
                f"arn:aws:events:{REGION}:{ACCOUNT_ID}:connection/{state['name']}/"
                f"{_fake_digest(args.name)[:8]}-0000-4000-8000-000000000000"
            )
            state["secretArn"] = (
                f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:events!connection/"
                f"{state['name']}-AbCdEf"
            )
        elif kind == "aws:cloudwatch/eventApiDestination:EventApiDestination":
            state["name"] = f"{args.name}-{suffix}"
            state["arn"] = (
                f"arn:aws:events:{REGION}:{ACCOUNT_ID}:api-destination/{state['name']}/"
                f"{_fake_digest(args.name)[:8]}-0000-4000-8000-000000000000"
            )
        elif kind == "aws:scheduler/schedule:Schedule":
            state["name"] = f"{args.name}-{suffix}"
            state["arn"] = (
                f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{state['name']}"
            )
        elif kind == "aws:sagemaker/trainingJob:TrainingJob":
            name = state["trainingJobName"]
            state["arn"] = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/{name}"
        # Pulumi auto-names what the program does not name: the logical name and a suffix.
        state.setdefault("name", f"{args.name}-{suffix}")
        if args.custom:
            service = kind.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{state['name']}")
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                "userId": "ci",
                "id": ACCOUNT_ID,
            }, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": REGION, "region": REGION, "id": REGION}, []
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "mock-password",
                "authorizationToken": "mock-token",
                "proxyEndpoint": f"https://{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": REGION,
            }, []
        if args.token == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            secret = args.args["secretId"]
            return {
                "arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{secret}-AbCdEf",
                "secretId": secret,
                "secretString": "mock-github-token",
                "versionId": "v1",
                "id": secret,
            }, []
        raise AssertionError(f"the program called an unmocked function: {args.token}")


class _PreviewMocks(_Mocks):
    """A first preview: nothing exists, so a create is answered with its inputs only."""

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        # No id: the SDK resolves an empty id as unknown during a preview.
        return "", dict(args.inputs)


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks, graph: Graph) -> None:
        super().__init__(mocks)
        self.graph = graph

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (the engine's RPC name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            timeouts = request.customTimeouts
            self.graph.resources.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=_revealed(pulumi.runtime.rpc.deserialize_properties(request.object)),
                    outputs=pulumi.runtime.rpc.deserialize_properties(response.object),
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    delete_before_replace=request.deleteBeforeReplace,
                    dependencies=sorted(request.dependencies),
                    custom_timeouts={
                        k: v
                        for k, v in (
                            ("create", timeouts.create),
                            ("update", timeouts.update),
                            ("delete", timeouts.delete),
                        )
                        if v
                    },
                    aliases=[
                        {
                            "urn": alias.urn,
                            "name": alias.spec.name,
                            "type": alias.spec.type,
                            "parentUrn": alias.spec.parentUrn,
                        }
                        for alias in request.aliases
                    ],
                )
            )
        return response


def _revealed(value: Any) -> Any:
    """Secret inputs as their values (the mocks' own fake secrets), so the rules can read them."""
    if isinstance(value, dict):
        if value.get(pulumi.runtime.rpc._special_sig_key) == pulumi.runtime.rpc._special_secret_sig:
            return _revealed(value["value"])
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def stack_config(stack: str, overrides: Mapping[str, object] | None = None) -> dict[str, str]:
    """What the engine hands the program for `stack`, with `overrides` written into its file."""
    values: dict[str, Any] = dict(read_stack_config(REPO, stack))
    values.update({f"{PROJECT}:{k}": v for k, v in (overrides or {}).items()})
    return engine_config(read_project(REPO), stack, values)


_INSIDE_APPLY: contextvars.ContextVar[bool] = contextvars.ContextVar("inside_apply", default=False)


@contextmanager
def _apply_watch(graph: Graph) -> Iterator[None]:
    """Record every resource constructed while an apply() callback runs."""
    original_apply = pulumi.Output.apply
    original_init = pulumi.Resource.__init__

    def apply(self: Any, func: Callable[..., Any], run_with_unknowns: bool = False) -> Any:
        def watched(value: Any) -> Any:
            token = _INSIDE_APPLY.set(True)
            try:
                return func(value)
            finally:
                _INSIDE_APPLY.reset(token)

        return original_apply(self, watched, run_with_unknowns)

    def init(self: Any, t: str, name: str, *args: Any, **kwargs: Any) -> None:
        if _INSIDE_APPLY.get():
            # Name the program's own line: the innermost frame outside the installed SDKs.
            frames = [f for f in traceback.extract_stack() if "site-packages" not in f.filename]
            where = frames[-2] if len(frames) > 1 else frames[-1]
            graph.created_in_apply.append(f"{t} {name} ({where.filename}:{where.lineno})")
        original_init(self, t, name, *args, **kwargs)

    pulumi.Output.apply = apply  # type: ignore[method-assign]
    pulumi.Resource.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        pulumi.Output.apply = original_apply  # type: ignore[method-assign]
        pulumi.Resource.__init__ = original_init  # type: ignore[method-assign]


@contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_program(
    stack: str, overrides: Mapping[str, object] | None = None, preview: bool = False
) -> Graph:
    """Run infra/ for `stack` (with config `overrides`) and return what it registered."""

    def program() -> None:
        runpy.run_path(".", run_name="__main__")

    with _working_directory(REPO / "infra"):
        return run(program, stack, stack_config(stack, overrides), preview)


def run(
    program: Callable[[], None], stack: str, config: Mapping[str, str], preview: bool = False
) -> Graph:
    """Run any program function under the recording mocks, with the engine's text config."""
    graph = Graph(stack=stack, preview=preview)
    mocks = _PreviewMocks() if preview else _Mocks()
    monitor = _RecordingMonitor(mocks, graph)
    pulumi.runtime.set_all_config(dict(config))
    # set_mocks makes a new root Stack only when none is set (pulumi/runtime/mocks.py), and the
    # root lives in a context variable that outlives a run: without this, a second run in the
    # same process reuses the first run's Stack, its URN (stack name) and its exported outputs.
    # The engine starts every program with a fresh root.
    pulumi_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    with _apply_watch(graph):
        _sync_await(run_pulumi_func(program))
        root = get_root_resource()
        assert root is not None
        for name, value in root.outputs.items():  # type: ignore[attr-defined]
            graph.outputs[name] = _sync_await(_resolved(value))
    return graph


async def _resolved(value: Any) -> Any:
    output = pulumi.Output.from_input(value)
    if not await output.is_known():
        return UNKNOWN
    return await output.future(with_unknowns=True)
