"""`python -m training [train]`: exactly what the image's `train` command runs."""

import sys

from training.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
