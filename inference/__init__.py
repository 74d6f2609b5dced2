"""The sagestack inference container: a strict, fast SageMaker model server.

SageMaker runs the image as `docker run <image> serve`; `python -m inference serve` does the
same in the repository. See `inference.server` for the process model and docs/inference.md for the
HTTP contract.
"""
