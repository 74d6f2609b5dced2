"""`python -m sagestack <command>`: `local` runs the whole pipeline on this machine."""

import sys

USAGE = "usage: python -m sagestack local [--stack dev] [--data FILE] [--port 8080] [--once]"


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("local",):
        sys.stderr.write(USAGE + "\n")
        return 2
    from sagestack.local import main as local

    return local(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
