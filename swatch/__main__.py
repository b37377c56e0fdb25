"""`python -m swatch COMMAND ...`: the same as the installed `swatch` command."""

from swatch.cli import main

raise SystemExit(main())
