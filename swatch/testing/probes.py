"""Helpers the benchmarks share to talk to a server and watch it: multipart bodies, a process's memory."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path


def multipart(
    fields: Mapping[str, str], image: bytes, filename: str = "q.jpg", content_type: str = "image/jpeg",
    boundary: str = "swatchbench7f3a",
) -> tuple[bytes, str]:
    """A multipart/form-data body of text `fields` then the file part `image` (field "image"), and its
    Content-Type header value."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n".encode() + image + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def memory_mb(pid: int, keys: Iterable[str] = ("VmRSS", "VmHWM")) -> dict[str, float]:
    """The `keys` lines of /proc/<pid>/status (VmRSS, VmHWM = peak, RssAnon, RssFile, ...), in MiB."""
    wanted = set(keys)
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in wanted:
            out[key] = round(int(line.split()[1]) / 1024, 1)
    return out
