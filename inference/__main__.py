"""`python -m inference [serve]`: what the image's `serve` command runs; and
`python -m inference monitor ...`: the monitoring job (inference/monitoring/cli.py)."""

import gc
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
    # Start-up makes only long-lived objects (modules, the model), which the server freezes
    # before forking its workers and then turns collection back on (inference.server._serve):
    # collecting while importing would only cost start-up time.
    gc.disable()
    from inference.server import main

    sys.exit(main())
