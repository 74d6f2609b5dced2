"""The `monitor` job: drift and live quality of captured endpoint traffic (see contract.py)."""
