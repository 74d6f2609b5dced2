"""`python -m training [train]`: exactly what the image's `train` command runs."""

import logging
import os
import sys

from training.entrypoint import main

if __name__ == "__main__":
    code = main()
    # Arrow's reader threads can outlive a CSV parse error and abort the interpreter's teardown
    # with SIGABRT (apache/arrow#34314, seen here once in ~100 runs), turning a clean exit code
    # into a crash. Every result is written and closed by now, so skip the teardown.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
