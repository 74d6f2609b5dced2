"""Serving without scikit-learn: the server runs with the scikit-learn stack made unimportable,
trees load from model.onnx and are self-checked against their recorded bound, and an old or
broken artifact is refused at start with a reason."""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from inference.artifact import ArtifactError, load_artifact
from inference.codecs import Decoder
from inference.predictor import compile_predictor, self_check
from tests.inference.conftest import RunningServer, TrainedModel, start_server

# Loaded first by every Python process of the server (sitecustomize), workers included
# whatever way they are started: importing any of these modules raises.
_BLOCKER = """
import sys

BLOCKED = {blocked!r}


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked: the inference image does not have it")
        return None


sys.meta_path.insert(0, Blocker())
"""
SCIKIT_LEARN_STACK = ("sklearn", "scipy", "joblib")


def _blocking(tmp_path: Path, blocked: tuple[str, ...]) -> dict[str, str]:
    hooks = tmp_path / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(_BLOCKER.format(blocked=set(blocked)))
    return {"PYTHONPATH": str(hooks)}


def _invoke_csv(server: RunningServer, body: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _serve_and_predict(model: TrainedModel, environment: dict[str, str]) -> None:
    server = start_server(model.base, environment=environment)
    try:
        status, body = _invoke_csv(server, model.features.head(3).to_csv(index=False, header=False))
        assert status == 200, body
        assert len(body["predictions"]) == 3
    finally:
        server.close()


@pytest.mark.parametrize("name", ["binary", "mixed", "forest", "boosting"])
def test_the_server_serves_with_the_scikit_learn_stack_unimportable(
    models: dict[str, TrainedModel], tmp_path: Path, name: str
) -> None:
    _serve_and_predict(models[name], _blocking(tmp_path, SCIKIT_LEARN_STACK))


def test_the_server_serves_without_pandas_either(
    models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    _serve_and_predict(models["forest"], _blocking(tmp_path, (*SCIKIT_LEARN_STACK, "pandas")))


def test_the_blocker_really_blocks(tmp_path: Path) -> None:
    import subprocess
    import sys

    environment = _blocking(tmp_path, SCIKIT_LEARN_STACK)
    result = subprocess.run(
        [sys.executable, "-c", "import sklearn"],
        env={"PYTHONPATH": environment["PYTHONPATH"], "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "sklearn is blocked" in result.stderr


def _copy(model: TrainedModel, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(model.model_dir, target)
    return target


def _edit_json(path: Path, edit: Any) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _check(model_dir: Path) -> None:
    artifact = load_artifact(model_dir)
    predictor = compile_predictor(artifact)
    rows = [list(row) for row in artifact.schema.sample_rows]
    self_check(predictor, artifact.schema, Decoder(artifact.schema).decode_rows(rows))


def test_a_format_1_linear_model_still_serves(
    models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    model_dir = _copy(models["binary"], tmp_path)
    _edit_json(model_dir / "schema.json", lambda s: s.update(format_version=1))
    _edit_json(model_dir / "predictor.json", lambda p: p.update(version=1))
    _check(model_dir)


def test_a_format_1_forest_is_refused_with_a_reason(
    models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    model_dir = _copy(models["forest"], tmp_path)
    (model_dir / "model.onnx").unlink()
    _edit_json(model_dir / "schema.json", lambda s: s.update(format_version=1))

    def as_format_1(parameters: dict[str, Any]) -> None:
        classes = parameters["estimator"]["classes"]
        parameters.update(version=1)
        parameters["estimator"] = {
            "kind": "other",
            "class": "RandomForestClassifier",
            "classes": classes,
        }

    _edit_json(model_dir / "predictor.json", as_format_1)
    with pytest.raises(ArtifactError, match=r"RandomForestClassifier with scikit-learn.*retrain"):
        _check(model_dir)


def test_the_self_check_holds_trees_to_their_recorded_bound(
    models: dict[str, TrainedModel], tmp_path: Path
) -> None:
    _check(models["boosting"].model_dir)
    model_dir = _copy(models["boosting"], tmp_path)
    # A bound tighter than float32 trees can meet: the same sample rows now fail.
    _edit_json(
        model_dir / "predictor.json",
        lambda p: p["estimator"].update(max_probability_difference=0.0),
    )
    with pytest.raises(ArtifactError, match=r"self-check failed.*allowed 1e-09"):
        _check(model_dir)


@pytest.mark.parametrize(
    ("breakage", "fragment"),
    [
        ("missing", "model.onnx is missing"),
        ("corrupt", "model.onnx could not be loaded"),
        ("bound out of range", "out of range: max_probability_difference nan"),
        ("other file", "names the tree file '../model.onnx'"),
    ],
)
def test_a_broken_tree_artifact_is_refused_with_a_reason(
    models: dict[str, TrainedModel], tmp_path: Path, breakage: str, fragment: str
) -> None:
    model_dir = _copy(models["forest"], tmp_path)
    if breakage == "missing":
        (model_dir / "model.onnx").unlink()
    elif breakage == "corrupt":
        (model_dir / "model.onnx").write_bytes(b"\x08\x07 not a graph")
    elif breakage == "bound out of range":
        _edit_json(
            model_dir / "predictor.json",
            lambda p: p["estimator"].update(max_probability_difference=float("nan")),
        )
    else:
        _edit_json(
            model_dir / "predictor.json", lambda p: p["estimator"].update(file="../model.onnx")
        )
    with pytest.raises(ArtifactError, match=fragment):
        _check(model_dir)
