"""`python -m swatch.demo --out DIR ...`: the same as `swatch demo` (swatch/cli/demo.py)."""

from swatch.cli import script

script("demo", prog="python -m swatch.demo")
