"""Similarity search, browsing and model versions; the web app holds one service.SearchEngine."""
