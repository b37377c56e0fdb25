"""Faiss indexes per (model, version): build, cache, filtered exact (or, above a size, HNSW) search."""

from swatch.index.cache import IndexCache, LoadedIndex
from swatch.index.vector import Hits, VectorIndex

__all__ = ["Hits", "IndexCache", "LoadedIndex", "VectorIndex"]
