"""Swatch: textile design similarity by colour, pattern and colour+pattern."""

__version__ = "0.1.0"
