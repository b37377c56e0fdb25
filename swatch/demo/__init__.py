"""Deterministic procedural demo catalogue of textile designs, so a fresh clone runs without outside data."""

from swatch.demo.catalogue import METADATA_FILE, generate_demo_catalogue, normalise_season
from swatch.demo.cli import main
from swatch.demo.families import FAMILIES
from swatch.demo.vocabulary import FIBRES, PALETTES, QUALITIES, SEASONS

__all__ = [
    "FAMILIES",
    "FIBRES",
    "METADATA_FILE",
    "PALETTES",
    "QUALITIES",
    "SEASONS",
    "generate_demo_catalogue",
    "main",
    "normalise_season",
]
