"""Design metadata: the file-name and composition grammars, metadata records and the JSON/CSV importers."""

from swatch.metadata.composition import parse_composition
from swatch.metadata.errors import MetadataError
from swatch.metadata.filenames import ParsedName, normalise_season, parse_filename
from swatch.metadata.importers import MAX_METADATA_BYTES, load_metadata_file
from swatch.metadata.records import MetadataRecord, record_for

__all__ = [
    "MAX_METADATA_BYTES",
    "MetadataError",
    "MetadataRecord",
    "ParsedName",
    "load_metadata_file",
    "normalise_season",
    "parse_composition",
    "parse_filename",
    "record_for",
]
