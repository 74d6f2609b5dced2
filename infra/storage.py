"""Storage: the data, artifacts and capture buckets, each private, encrypted and versioned.

Every bucket gets SSE-KMS with bucket keys, versioning, all four public-access blocks, owner-
enforced object ownership (no ACLs), a policy denying plain-HTTP access, and lifecycle rules
(old versions expire; captured traffic expires after its retention). What `pulumi destroy`
does with them is stack config: dev empties and deletes them; other stacks keep them (and prod
protects the data and artifacts buckets, so that a destroy cannot even be attempted by
accident).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.config import StorageConfig
from infra.policies import tls_only_bucket_policy

# Days after which an unfinished multipart upload is abandoned (its parts are billed).
ABORT_MULTIPART_DAYS = 7


@dataclass(frozen=True)
class PrivateBucketArgs:
    bucket_prefix: str
    kms_key_arn: pulumi.Output[str] | None
    force_destroy: bool
    retain_on_delete: bool
    protect: bool
    noncurrent_version_days: int
    # Current objects expire after this many days (captured traffic); None keeps them.
    expire_after_days: int | None
    tags: dict[str, str]


class PrivateBucket(pulumi.ComponentResource):
    """One bucket and the settings that make it private, encrypted, versioned and TLS-only."""

    bucket: aws.s3.Bucket
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: PrivateBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:storage:PrivateBucket", name, None, opts)
        # The settings share the bucket's fate: a retained bucket keeps its encryption, its
        # public-access blocks and its policy instead of losing them on `pulumi destroy`.
        keep = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=args.retain_on_delete
        )
        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            aws.s3.BucketArgs(
                bucket_prefix=args.bucket_prefix,
                force_destroy=args.force_destroy,
                tags=args.tags,
            ),
            opts=keep,
        )
        bucket_id = self.bucket.id
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket_id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            opts=keep,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=bucket_id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            opts=keep,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket_id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms",
                            # None: the AWS-managed aws/s3 key.
                            kms_master_key_id=args.kms_key_arn,
                        ),
                        # One data key per bucket instead of a KMS call per object.
                        bucket_key_enabled=True,
                    )
                ],
            ),
            opts=keep,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket_id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                    status="Enabled"
                ),
            ),
            opts=keep,
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            aws.s3.BucketPolicyArgs(
                bucket=bucket_id,
                policy=self.bucket.arn.apply(lambda arn: json.dumps(tls_only_bucket_policy(arn))),
            ),
            # S3 rejects policy changes while the public-access block is being written.
            opts=pulumi.ResourceOptions.merge(
                keep, pulumi.ResourceOptions(depends_on=[public_access])
            ),
        )
        rules = [
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-old-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=args.noncurrent_version_days
                ),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                    expired_object_delete_marker=True
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=ABORT_MULTIPART_DAYS
                ),
            )
        ]
        if args.expire_after_days is not None:
            rules.append(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-objects",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.expire_after_days
                    ),
                )
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(bucket=bucket_id, rules=rules),
            # Lifecycle rules on noncurrent versions need versioning to exist first.
            opts=pulumi.ResourceOptions.merge(
                keep, pulumi.ResourceOptions(depends_on=[versioning])
            ),
        )
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})


@dataclass(frozen=True)
class StorageArgs:
    name_prefix: str
    kms_key_arn: pulumi.Output[str] | None
    # Not force-destroyed buckets are retained by `pulumi destroy` (it would fail on them
    # anyway while they hold objects); protectData also protects data and artifacts.
    storage: StorageConfig
    tags: dict[str, str]


class Storage(pulumi.ComponentResource):
    data: PrivateBucket
    artifacts: PrivateBucket
    capture: PrivateBucket

    def __init__(
        self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("sagestack:storage:Storage", name, None, opts)

        def bucket(role: str, protect: bool, expire_after_days: int | None) -> PrivateBucket:
            return PrivateBucket(
                f"{name}-{role}",
                PrivateBucketArgs(
                    bucket_prefix=bucket_prefix(args.name_prefix, role),
                    kms_key_arn=args.kms_key_arn,
                    force_destroy=args.storage.force_destroy,
                    retain_on_delete=not args.storage.force_destroy,
                    protect=protect,
                    noncurrent_version_days=args.storage.noncurrent_version_days,
                    expire_after_days=expire_after_days,
                    tags={**args.tags, "data-role": role},
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.data = bucket("data", args.storage.protect_data, None)
        self.artifacts = bucket("artifacts", args.storage.protect_data, None)
        # Captured traffic expires by itself; it is never protected.
        self.capture = bucket("capture", False, args.storage.capture_retention_days)
        self.register_outputs(
            {
                "data_bucket": self.data.name,
                "artifacts_bucket": self.artifacts.name,
                "capture_bucket": self.capture.name,
            }
        )


# S3's limit for bucket_prefix (Pulumi appends a 26-character unique suffix).
BUCKET_PREFIX_MAX = 37


def bucket_prefix(name_prefix: str, role: str) -> str:
    """`<project>-<stack>-<role>-`, lower case and short enough for S3."""
    room = BUCKET_PREFIX_MAX - len(role) - 2
    head = name_prefix.lower()[:room].rstrip("-")
    return f"{head}-{role}-"
