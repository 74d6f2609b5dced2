"""`python -m sagestack <command>`: `local` runs the whole pipeline on this machine; `verify`
checks a deployed stack through its outputs; `cost` estimates a stack's monthly cost."""

import sys

USAGE = """usage: python -m sagestack local [--stack dev] [--data FILE] [--port 8080] [--once]
       python -m sagestack verify [--outputs FILE]   (default: outputs JSON on stdin)
       python -m sagestack cost --stack dev [--json] [--requests-per-day N] ... (--help)"""


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "local":
        from sagestack.local import main as local

        return local(sys.argv[2:])
    if command == "verify":
        from sagestack.verify import main as verify

        return verify(sys.argv[2:])
    if command == "cost":
        from sagestack.cost.cli import main as cost

        return cost(sys.argv[2:])
    sys.stderr.write(USAGE + "\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
