"""The sagestack Pulumi program. `Pulumi.yaml` runs `infra/`; see `infra/__main__.py`."""
