"""The demo catalogue's vocabulary: seasons, qualities with their fibre compositions, named palettes."""

from __future__ import annotations

SEASONS: tuple[str, ...] = ("AW22", "SS23", "AW23", "SS24", "AW24")

# Each quality (fabric line) has one fixed fibre composition, percentages summing to 100.
QUALITIES: dict[str, tuple[tuple[str, int], ...]] = {
    "DUNDEE SUIT": (("WV", 60), ("PES", 40)),
    "OSCAR PRESTIGE": (("WV", 90), ("SE", 10)),
    "HARROW TWILL": (("WV", 70), ("PES", 28), ("EL", 2)),
    "LINEN CLASSIC": (("LI", 55), ("CO", 45)),
    "VELVET ROYAL": (("VI", 82), ("SE", 18)),
    "COTTON POPLIN": (("CO", 97), ("EL", 3)),
}
FIBRES: dict[str, str] = {
    "WV": "wool",
    "PES": "polyester",
    "CO": "cotton",
    "LI": "linen",
    "SE": "silk",
    "EL": "elastane",
    "VI": "viscose",
}

# Named palettes, ground colour first. Every colourway of every design draws one of these, so the
# palette name is the colour ground truth shared across designs and families.
_PALETTE_HEX: dict[str, tuple[str, ...]] = {
    "navy-cream": ("#1d2747", "#efe5cc", "#7d8fb3"),
    "burgundy-gold": ("#6e1628", "#c9a23f", "#3b1d19"),
    "forest-ochre": ("#22462d", "#cc8e2d", "#e6dcbe", "#6f8a5c"),
    "charcoal-grey": ("#36383c", "#8c8e92", "#cdcdd0"),
    "pastel-pinks": ("#f4d6d8", "#e2a0af", "#c4788c", "#faf4f2"),
    "teal-coral": ("#166e73", "#f08064", "#ecdcbe"),
    "camel-chocolate": ("#c19a6b", "#4e3020", "#efe6d2"),
    "sky-white": ("#8cb9e1", "#f8f8f5", "#3c64a0"),
    "black-white": ("#161618", "#f0f0ec"),
    "olive-rust": ("#646932", "#aa4b28", "#d7c8a5", "#33361a"),
    "plum-lilac": ("#5a2850", "#bea0d2", "#c8c8d2"),
    "mustard-slate": ("#d7aa28", "#505f6e", "#f2ede0"),
    "royal-scarlet": ("#233c96", "#be232d", "#f4f1ea", "#1e5a32"),
    "sage-stone": ("#96aa8c", "#c8bea9", "#506446"),
}


def _hex_rgb(code: str) -> tuple[int, int, int]:
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)


PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    name: tuple(_hex_rgb(c) for c in colours) for name, colours in _PALETTE_HEX.items()
}

