"""The sagestack project CLI: local mode and post-deploy verification (`python -m sagestack`)."""
