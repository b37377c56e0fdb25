"""SearchError: a search, browse or model request that cannot be answered, with the HTTP status to use."""

from __future__ import annotations

from swatch.bounds import ParamError


class SearchError(ParamError):
    """A request that cannot be answered; `status` is the HTTP status to answer (400, 404, 409, 413)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class VectorBackendUnavailable(RuntimeError):
    """The vector back end (Milvus) cannot answer now (503 with the reason; searches recover when it does)."""
