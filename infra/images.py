"""Images: the training and inference images in our ECR repositories, referenced by digest.

Each image is built from its Dockerfile (context: the repository root, linux/amd64) and pushed
with pulumi-docker-build to a repository that scans on push, never overwrites a tag, keeps the
last N images and is encrypted. The tag is a hash of the image's sources, so unchanged code is
neither rebuilt nor pushed again. Or, per image, a prebuilt ECR URI from config: no repository
and no build at all (previews in CI need no Docker).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build

from infra.account import AwsAccount
from infra.config import ImagesConfig
from infra.paths import PROJECT_ROOT, for_pulumi
from infra.policies import ecr_lifecycle_policy, ecr_repository_arn

SOURCE_TAG_LENGTH = 16
_SKIPPED_PARTS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


# The packages each image's Dockerfile copies: both hold contracts/ (names and shapes shared
# across the import wall); the training image also runs the `monitor` job, which decodes
# captured requests with the inference package's codecs.
IMAGE_PACKAGES = {
    "training": ("contracts", "training", "inference"),
    "inference": ("contracts", "inference"),
}


def image_sources(role: str, root: Path = PROJECT_ROOT) -> list[Path]:
    """Everything the image's Dockerfile copies: the packages, the lock file, the Dockerfile."""
    package = sorted(
        path
        for folder in IMAGE_PACKAGES.get(role, (role,))
        for path in (root / folder).rglob("*")
        if path.is_file() and not _SKIPPED_PARTS.intersection(path.parts) and path.suffix != ".pyc"
    )
    return [*package, root / "requirements" / f"{role}.txt"]


def source_tag(files: Iterable[Path], root: Path = PROJECT_ROOT) -> str:
    """A hash of the files' paths and contents: equal sources, equal tag."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:SOURCE_TAG_LENGTH]


@dataclass(frozen=True)
class ImageBuildArgs:
    role: str  # "training" or "inference": the folder holding the Dockerfile and package
    kms_key_arn: pulumi.Output[str] | None
    keep_images: int
    tags: dict[str, str]


class ImageBuild(pulumi.ComponentResource):
    """An ECR repository and the image built from `<role>/Dockerfile`, pushed to it."""

    image_uri: pulumi.Output[str]
    repository_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImageBuildArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:images:ImageBuild", name, None, opts)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            aws.ecr.RepositoryArgs(
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type="KMS", kms_key=args.kms_key_arn
                    )
                ],
                # Images are rebuilt from any commit; they are not data worth a failed destroy.
                force_delete=True,
                tags=args.tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            aws.ecr.LifecyclePolicyArgs(
                repository=repository.name,
                policy=json.dumps(ecr_lifecycle_policy(args.keep_images)),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        tag = source_tag(image_sources(args.role))
        image = docker_build.Image(
            f"{name}-image",
            docker_build.ImageArgs(
                context=docker_build.BuildContextArgs(location=for_pulumi(PROJECT_ROOT)),
                dockerfile=docker_build.DockerfileArgs(
                    location=for_pulumi(PROJECT_ROOT / args.role / "Dockerfile")
                ),
                # SageMaker runs x86 instances for the instance types we validate.
                platforms=[docker_build.Platform.LINUX_AMD64],
                push=True,
                # Previews never need Docker: the digest is simply unknown until `pulumi up`.
                build_on_preview=False,
                tags=[pulumi.Output.concat(repository.repository_url, ":", tag)],
                registries=[
                    docker_build.RegistryArgs(
                        address=repository.repository_url.apply(lambda url: url.split("/")[0]),
                        username=token.user_name,
                        password=token.password,
                    )
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # `<repository>@sha256:...`: the exact image, whatever happens to tags later.
        self.image_uri = pulumi.Output.concat(repository.repository_url, "@", image.digest)
        self.repository_arn = repository.arn
        self.register_outputs({"image_uri": self.image_uri})


@dataclass(frozen=True)
class ImagesArgs:
    account: AwsAccount
    images: ImagesConfig  # each image prebuilt, or "" to build it
    kms_key_arn: pulumi.Output[str] | None
    tags: dict[str, str]


class Images(pulumi.ComponentResource):
    training_image_uri: pulumi.Output[str]
    inference_image_uri: pulumi.Output[str]
    repository_arns: pulumi.Output[list[str]]
    training_repository_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ImagesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:images:Images", name, None, opts)

        def image(role: str, prebuilt: str) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
            if prebuilt:
                arn = args.account.partition.apply(lambda p: ecr_repository_arn(prebuilt, p))
                return pulumi.Output.from_input(prebuilt), arn
            build = ImageBuild(
                f"{name}-{role}",
                ImageBuildArgs(
                    role=role,
                    kms_key_arn=args.kms_key_arn,
                    keep_images=args.images.keep_images,
                    tags=args.tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            return build.image_uri, build.repository_arn

        self.training_image_uri, training_arn = image("training", args.images.training_image_uri)
        self.inference_image_uri, inference_arn = image(
            "inference", args.images.inference_image_uri
        )
        self.repository_arns = pulumi.Output.all(training_arn, inference_arn)
        # The monitoring job runs in the training image: its role pulls that one only.
        self.training_repository_arn = training_arn
        self.register_outputs(
            {
                "training_image_uri": self.training_image_uri,
                "inference_image_uri": self.inference_image_uri,
            }
        )
