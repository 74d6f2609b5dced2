"""The baseline: how the stock SageMaker scikit-learn container serves a model.

gunicorn with gevent workers in front of Flask; the CSV body decoded with numpy.genfromtxt;
then the fitted pipeline's own predict. Run by the inference benchmark as:

    gunicorn -k gevent -w N -b 127.0.0.1:PORT benchmarks.baseline_server:app
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import joblib
import numpy as np
from flask import Flask, Response, request

# Importable here: the inference benchmark runs this under gunicorn from the development
# venv, with the repository on PYTHONPATH.
from contracts.artifact import MODEL_FILE

# The stock container hands predict a bare array; the pipeline was fitted on named columns.
warnings.filterwarnings("ignore", message="X does not have valid feature names")

app = Flask(__name__)
model = joblib.load(Path(os.environ["BASELINE_MODEL_DIR"]) / MODEL_FILE)


@app.route("/ping", methods=["GET"])
def ping() -> Response:
    return Response(status=200)


@app.route("/invocations", methods=["POST"])
def invocations() -> Response:
    rows = np.genfromtxt(io.StringIO(request.data.decode("utf-8")), delimiter=",")
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    labels = model.predict(rows)
    return Response(json.dumps(labels.tolist()), status=200, mimetype="application/json")
