"""`python -m inference [serve]`: what the image's `serve` command runs; and
`python -m inference monitor ...`: the monitoring job (inference/monitoring/cli.py)."""

import os
import sys

# One BLAS thread per worker: the workers are the parallelism, and a request's few rows gain
# nothing from more threads. It must be set before numpy is first imported.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

if __name__ == "__main__":
    # `monitor` is the monitoring job's command; anything else is the server's to parse.
    if sys.argv[1:2] == ["monitor"]:
        from inference.monitoring.cli import main as monitor

        sys.exit(monitor(sys.argv[2:]))
    from inference.server import main

    sys.exit(main())
