"""pymilvus in one place: connecting to SWATCH_MILVUS_URI (a server address or a milvus-lite file), the schema."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

with warnings.catch_warnings():  # milvus-lite imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    from pymilvus import DataType, MilvusClient
    from pymilvus.exceptions import MilvusException

MilvusError = MilvusException
REMOTE_RE = re.compile(r"^(https?|tcp|grpc)://[^/\s]+(:\d+)?/?$|^unix:/\S+$")
MAX_TEXT = 512  # characters of a season, quality or design key (milvus_fields.MAX_TEXT)


def masked(uri: str) -> str:
    """The URI with any password replaced by ***."""
    return re.sub(r"(//[^:/@]+:)[^@]+@", r"\1***@", uri)


#: the client calls that talk to the server: each gets the timeout (else pymilvus retries for minutes)
RPC = frozenset({"search", "query", "insert", "upsert", "has_collection", "describe_collection", "flush",
                 "load_collection", "release_collection", "drop_collection", "list_collections",
                 "create_collection", "get_load_state", "describe_index"})


class TimedClient:
    """A MilvusClient whose server calls give up after `timeout` seconds unless told otherwise."""

    def __init__(self, client: Any, timeout: float):
        self.client = client
        self.timeout = max(1, int(round(timeout)))  # pymilvus honours only an int timeout (else: 75 retries)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name not in RPC:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", self.timeout)
            return attr(*args, **kwargs)

        return call


@contextmanager
def pymilvus_quiet() -> Iterator[None]:
    """pymilvus logs its own line when a connection fails; we report the failure ourselves (one line)."""
    loggers = [logging.getLogger("pymilvus")] + [logging.getLogger(name) for name in list(logging.root.manager
                                                  .loggerDict) if name.startswith("pymilvus.")]
    saved = [lg.disabled for lg in loggers]
    for lg in loggers:
        lg.disabled = True
    try:
        yield
    finally:
        for lg, was in zip(loggers, saved, strict=True):
            lg.disabled = was


def connect(uri: str, timeout: float) -> Any:
    """A connected MilvusClient (a `.db` path starts the milvus-lite server bundled with pymilvus)."""
    with warnings.catch_warnings(), pymilvus_quiet():
        warnings.simplefilter("ignore")
        client = TimedClient(MilvusClient(uri=uri, timeout=timeout), timeout)
        client.list_collections()
    return client


def check_reachable(uri: str, timeout: float) -> str | None:
    """None when Milvus at `uri` answers, else a one-line reason naming SWATCH_MILVUS_URI."""
    try:
        connect(uri, timeout).close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the same refusal
        reason = " ".join(str(getattr(exc, "message", "") or exc).split())[:200]
        return f"SWATCH_MILVUS_URI: cannot reach Milvus at {masked(uri)}: {reason}"


def schema(client: Any, dim: int) -> Any:
    """Row position (primary key), the vector, and the scalar fields filters match on (milvus_fields.py)."""
    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=int(dim))
    s.add_field("live", DataType.BOOL)
    for name in ("season", "quality", "design"):
        s.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT * 4)
    s.add_field("has_comp", DataType.BOOL)
    s.add_field("fibres", DataType.JSON)
    s.add_field("clusters", DataType.JSON)
    return s
