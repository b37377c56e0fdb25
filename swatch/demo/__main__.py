"""`python -m swatch.demo`."""

from swatch.demo.cli import main

raise SystemExit(main())
