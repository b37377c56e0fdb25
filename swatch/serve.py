"""`python -m swatch.serve [--host H] [--port P] [--threads N]`: the same as `swatch serve` (swatch/cli/serve.py)."""

from swatch.cli import script

if __name__ == "__main__":
    script("serve", prog="python -m swatch.serve")
