"""Dataset: the training data in S3, and the version key whose change retrains.

A local file (the default) is uploaded to the data bucket under `datasets/<content hash>/`,
so new data is a new object and a new training job, and the same data is neither uploaded nor
trained on twice. An `s3://` dataPath is used where it is, with the user's dataVersion as its
version key; the execution role may read it and nothing else of that bucket.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from infra.config import StorageConfig, TrainingConfig
from infra.paths import for_pulumi, project_path
from infra.policies import s3_location

DATASETS_PREFIX = "datasets"
VERSION_LENGTH = 16


class DatasetError(ValueError):
    """The configured dataset cannot be used."""


def file_version(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256: its identity for retraining."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:VERSION_LENGTH]


def dataset_key(version: str, file_name: str) -> str:
    return f"{DATASETS_PREFIX}/{version}/{file_name}"


@dataclass(frozen=True)
class DatasetArgs:
    # Where the data is (training.data_path, .data_version) and whether the uploaded copy
    # outlives `pulumi destroy` (storage.force_destroy, .protect_data): the units whole.
    training: TrainingConfig
    storage: StorageConfig
    bucket: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    partition: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str] | None
    tags: dict[str, str]


class Dataset(pulumi.ComponentResource):
    version: str
    # The training channel's S3 prefix, and what the execution role must be able to read.
    channel_uri: pulumi.Output[str]
    read_bucket_arn: pulumi.Output[str]
    read_prefix: str

    def __init__(
        self, name: str, args: DatasetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:dataset:Dataset", name, None, opts)
        data_path = args.training.data_path
        if args.training.data_in_s3:
            source_bucket, key = s3_location(data_path)
            self.version = args.training.data_version
            self.channel_uri = pulumi.Output.from_input(data_path)
            self.read_bucket_arn = args.partition.apply(lambda p: f"arn:{p}:s3:::{source_bucket}")
            self.read_prefix = key
        else:
            path = project_path(data_path)
            if not path.is_file():
                raise DatasetError(
                    f"sagestack:dataPath={data_path!r}: no such file ({path}); give a CSV or "
                    "Parquet file relative to the repository root, or an s3:// URI"
                )
            self.version = file_version(path)
            key = dataset_key(self.version, path.name)
            uploaded = aws.s3.BucketObjectv2(
                f"{name}-object",
                aws.s3.BucketObjectv2Args(
                    bucket=args.bucket,
                    key=key,
                    source=pulumi.FileAsset(for_pulumi(path)),
                    server_side_encryption="aws:kms",
                    kms_key_id=args.kms_key_arn,
                    bucket_key_enabled=True,
                    tags=args.tags,
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    protect=args.storage.protect_data,
                    retain_on_delete=not args.storage.force_destroy,
                ),
            )
            prefix = f"{DATASETS_PREFIX}/{self.version}/"
            self.channel_uri = pulumi.Output.concat("s3://", uploaded.bucket, "/", prefix)
            self.read_bucket_arn = args.bucket_arn
            self.read_prefix = DATASETS_PREFIX + "/"
        self.register_outputs({"version": self.version, "channel_uri": self.channel_uri})
