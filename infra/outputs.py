"""The stack outputs' contract: their names, and the example invoke command among them.

The README's outputs table, the GitOps workflows and `python -m sagestack verify` read these
names; change them only together.
"""

from __future__ import annotations

import shlex

OUTPUT_NAMES = (
    "endpoint_name",
    "endpoint_arn",
    "model_data_url",
    "training_job_name",
    "data_bucket",
    "artifacts_bucket",
    "capture_bucket",
    "execution_role_arn",
    "training_image_uri",
    "inference_image_uri",
    "region",
    "endpoint_config_name",
    "alarm_topic_arn",
    "dashboard_url",
    "invoke_command",
)


def invoke_command(endpoint: str, region: str) -> str:
    """An AWS CLI call that sends rows.csv (feature rows, no label) and prints the answer."""
    return shlex.join(
        [
            "aws",
            "sagemaker-runtime",
            "invoke-endpoint",
            "--region",
            region,
            "--endpoint-name",
            endpoint,
            "--content-type",
            "text/csv",
            "--accept",
            "application/json",
            "--body",
            "fileb://rows.csv",
            "/dev/stdout",
        ]
    )
