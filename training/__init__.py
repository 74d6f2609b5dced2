"""The sagestack training container: load, clean, train, evaluate, gate, and save a model.

SageMaker runs the image as `docker run <image> train`; `python -m training train` does the same
thing in the repository. See `training.entrypoint` for the steps and docs/training.md for the
contract.
"""
