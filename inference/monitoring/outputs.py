"""What a monitoring run leaves behind: Model Monitor's two files, a report and plots.

statistics.json and constraint_violations.json keep Model Monitor's names and shapes (AWS,
"Schema for Statistics (statistics.json file)" and "Schema for Violations
(constraint_violations.json file)"): {"version": 0, "dataset": {"item_count"}, "features":
[{"name", "inferred_type", "numerical_statistics" | "string_statistics"}]} and {"violations":
[{"feature_name", "constraint_check_type", "description"}]}. The numeric distribution holds
our bins (the training deciles) where Model Monitor has a KLL sketch; our own results (drift
scores, verdicts, live quality, bad input) are under "sagestack" keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from contracts.json_values import plain
from inference.monitoring.contract import (
    PLOTS_DIR,
    REPORT_FILE,
    STATISTICS_FILE,
    VIOLATIONS_FILE,
)
from inference.monitoring.drift import FeatureDrift

PLOTTED_FEATURES = 6


def write_outputs(output_dir: Path, result: dict[str, Any], features: list[FeatureDrift]) -> Path:
    output_dir.mkdir(parents=True, exist_ok=True)
    _write_json(output_dir / STATISTICS_FILE, statistics_document(result, features))
    _write_json(output_dir / VIOLATIONS_FILE, violations_document(result, features))
    plots = _plot_most_drifted(output_dir / PLOTS_DIR, features)
    report = output_dir / REPORT_FILE
    report.write_text(report_text(result, features, plots), encoding="utf-8")
    return report


def statistics_document(result: dict[str, Any], features: list[FeatureDrift]) -> dict[str, Any]:
    entries = []
    for feature in features:
        entry: dict[str, Any] = {"name": feature.name}
        if feature.kind == "numeric":
            entry["inferred_type"] = "Fractional"
            entry["numerical_statistics"] = feature.statistics
        else:
            entry["inferred_type"] = "String"
            entry["string_statistics"] = feature.statistics
        entry["sagestack"] = {
            "status": feature.status,
            "scores": feature.scores,
            "missing_fraction": feature.missing_fraction,
            "training_missing_fraction": feature.training_missing_fraction,
        }
        entries.append(entry)
    return {
        "version": 0,
        "dataset": {"item_count": result["rows"]},
        "features": entries,
        "sagestack": result,
    }


def violations_document(result: dict[str, Any], features: list[FeatureDrift]) -> dict[str, Any]:
    violations = [
        {
            "feature_name": feature.name,
            "constraint_check_type": check.check_type,
            "description": check.description,
        }
        for feature in features
        for check in feature.checks
    ]
    prediction = result["prediction_drift"]
    if prediction["status"] == "drift":
        violations.append(
            {
                "feature_name": "prediction",
                "constraint_check_type": "baseline_drift_check",
                "description": (
                    f"predicted class shares moved from the held-out rows' by a Jensen-Shannon "
                    f"distance of {prediction['js_distance']:.3f}"
                ),
            }
        )
    for failure in result.get("quality", {}).get("failures", []):
        violations.append(
            {
                "feature_name": "model_quality",
                "constraint_check_type": "model_quality_check",
                "description": failure,
            }
        )
    return {"violations": violations}


def report_text(result: dict[str, Any], features: list[FeatureDrift], plots: list[Path]) -> str:
    window = result["window"]
    lines = [
        f"# Monitoring report: {result.get('endpoint') or 'local'}"
        f"{'/' + result['variant'] if result.get('variant') else ''}",
        "",
        f"Window: {window['start']} to {window['end']} (inferenceTime, end excluded).",
        "",
        f"**Verdict: {result['verdict']}.** {result['verdict_reason']}",
        "",
        f"- rows monitored: {result['rows']} from {result['read']['requests_decoded']} requests "
        f"in {result['read']['files']} capture files",
        f"- drifted features: {result['drifted_features']} of {len(features)}"
        f" (dataset drift at {result['thresholds']['dataset_drift_share']:.0%})",
    ]
    prediction = result["prediction_drift"]
    if prediction["js_distance"] is not None:
        lines.append(
            f"- prediction drift: JS distance {prediction['js_distance']:.3f} "
            f"({prediction['status']}); class shares {_shares(prediction['class_shares'])} "
            f"against {_shares(prediction['held_out_class_shares'])} on the held-out rows"
        )
    quality = result.get("quality")
    if quality is None:
        lines.append("- live quality: no ground truth given")
    elif quality["metrics"]:
        shown = ", ".join(
            f"{name} {value:.4f}" if value is not None else f"{name} -"
            for name, value in quality["metrics"].items()
        )
        lines.append(
            f"- live quality on {quality['rows']} labelled rows: {shown} ({quality['status']})"
        )
        lines.extend(f"  - {failure}" for failure in quality["failures"])
    else:
        lines.append(
            f"- live quality: {quality['rows']} labelled rows, too few to judge (insufficient data)"
        )
    problems = result["read"]["problems"]
    if problems:
        lines.append(f"- bad input, counted and skipped: {_counts(problems)}")
        lines.extend(f"  - {example}" for example in result["read"]["problem_examples"])
    lines += [
        "",
        "## Features",
        "",
        "| feature | kind | status | score | missing | violations |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for feature in sorted(features, key=lambda f: -f.severity):
        score = (
            f"PSI {feature.scores['psi']:.3f}, KS {feature.scores['ks']:.3f}"
            if feature.kind == "numeric"
            else f"JS {feature.scores['js']:.3f}, unseen {feature.scores['unseen_share']:.1%}"
        )
        lines.append(
            f"| {feature.name} | {feature.kind} | {feature.status} | {score} | "
            f"{feature.missing_fraction:.1%} (training {feature.training_missing_fraction:.1%}) | "
            f"{'; '.join(check.description for check in feature.checks) or '-'} |"
        )
    if plots:
        lines += ["", "## The most drifted features", ""]
        for path in plots:
            lines += [f"![{path.stem}]({PLOTS_DIR}/{path.name})", ""]
    lines += [
        "",
        "Thresholds: "
        + ", ".join(
            f"{name} {value:g}" for name, value in result["thresholds"].items() if value is not None
        ),
        "",
    ]
    return "\n".join(lines)


def _plot_most_drifted(directory: Path, features: list[FeatureDrift]) -> list[Path]:
    ranked = [f for f in sorted(features, key=lambda f: -f.severity) if f.present][
        :PLOTTED_FEATURES
    ]
    if not ranked:
        return []
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for feature in ranked:
        labels = [label for label, _, _ in feature.bins]
        training = [expected for _, expected, _ in feature.bins]
        live = [actual for _, _, actual in feature.bins]
        positions = range(len(labels))
        figure, axes = plt.subplots(figsize=(8, 4))
        axes.bar([p - 0.2 for p in positions], training, width=0.4, label="training")
        axes.bar([p + 0.2 for p in positions], live, width=0.4, label="this window")
        axes.set_xticks(list(positions), labels, rotation=45, ha="right", fontsize=7)
        axes.set_ylabel("share of rows")
        score = "PSI" if feature.kind == "numeric" else "JS"
        axes.set_title(f"{feature.name}: {score} {feature.severity:.3f} ({feature.status})")
        axes.legend()
        figure.tight_layout()
        path = directory / f"{_file_name(feature.name)}.png"
        figure.savefig(path, dpi=80)
        plt.close(figure)
        paths.append(path)
    return paths


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "feature"


def _shares(shares: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k}: {v:.1%}" for k, v in shares.items()) + "}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(plain(document), indent=2, allow_nan=False) + "\n", encoding="utf-8")
