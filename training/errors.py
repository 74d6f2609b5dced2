"""One exception per kind of failure; each message is written to output/failure as it is."""


class TrainingError(Exception):
    """A failure the user can fix; its message is the job's FailureReason."""

    kind = "Training failed"


class HyperparameterError(TrainingError):
    kind = "Invalid hyperparameters"


class DataError(TrainingError):
    kind = "Invalid training data"


class QualityBarError(TrainingError):
    kind = "Quality bar not met"


class TrainingStopped(TrainingError):
    kind = "Training stopped"


class ConversionError(TrainingError):
    """The model cannot be served as it was evaluated (see training/onnx_export.py)."""

    kind = "Model conversion failed"
