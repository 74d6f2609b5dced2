"""Regenerate data/breast_cancer.csv: the Wisconsin breast-cancer data that scikit-learn ships.

569 rows, 30 numeric features and a `target` column (0 = malignant, 1 = benign, as scikit-learn
encodes it). The file is committed; run this only to rebuild it (`make dataset`), or pass another
output path.
"""

import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer

OUTPUT = Path(__file__).resolve().parent / "breast_cancer.csv"


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    frame = load_breast_cancer(as_frame=True).frame
    # Column names with spaces are legal, but underscores survive shells, SQL and CSV tools.
    frame.columns = [str(name).replace(" ", "_") for name in frame.columns]
    frame.to_csv(output, index=False, float_format="%.10g", lineterminator="\n")
    print(f"wrote {output} ({len(frame)} rows, {frame.shape[1] - 1} features)")


if __name__ == "__main__":
    main()
