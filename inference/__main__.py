"""`python -m inference [serve]`: exactly what the image's `serve` command runs."""

import os
import sys

# One BLAS thread per worker: the workers are the parallelism, and a request's few rows gain
# nothing from more threads. It must be set before numpy is first imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from inference.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
