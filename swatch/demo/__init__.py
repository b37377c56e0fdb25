"""Deterministic procedural demo catalogue of textile designs, so a fresh clone runs without outside data."""

from functools import partial

from swatch.demo.catalogue import METADATA_FILE, generate_demo_catalogue, normalise_season
from swatch.demo.families import FAMILIES
from swatch.demo.vocabulary import FIBRES, PALETTES, QUALITIES, SEASONS
from swatch.features.pattern.centre import register_centre_source

__all__ = [
    "FAMILIES",
    "FIBRES",
    "METADATA_FILE",
    "PALETTES",
    "QUALITIES",
    "SEASONS",
    "generate_demo_catalogue",
    "normalise_season",
]

#: the pattern centre of settings without a shipped one is the mean row of this catalogue
register_centre_source(partial(generate_demo_catalogue, progress=False))
