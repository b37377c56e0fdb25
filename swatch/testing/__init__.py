"""What tests and benchmarks share: synthetic catalogues, a server on a free port, common checks.

Nothing in swatch/ outside this package imports it: it is for tests/ and bench/ only."""
