"""`python -m sagestack <command>`: `local` runs the whole pipeline on this machine; `verify`
checks a deployed stack through its outputs."""

import sys

USAGE = """usage: python -m sagestack local [--stack dev] [--data FILE] [--port 8080] [--once]
       python -m sagestack verify [--outputs FILE]   (default: outputs JSON on stdin)"""


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "local":
        from sagestack.local import main as local

        return local(sys.argv[2:])
    if command == "verify":
        from sagestack.verify import main as verify

        return verify(sys.argv[2:])
    sys.stderr.write(USAGE + "\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
