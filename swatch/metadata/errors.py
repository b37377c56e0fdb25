"""The one error of metadata parsing and importing, with its one-line message helper."""

from __future__ import annotations


class MetadataError(ValueError):
    """A metadata file or value that cannot be used; the message is one line and names the file and entry."""


def one_line(text: object) -> str:
    """`text` with every run of whitespace (newlines included) reduced to one space."""
    return " ".join(str(text).split())
