"""Catalogued files opened without following links: an original is served only while it is the catalogued file."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from swatch.catalog.images import ImageRow

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: O_NONBLOCK: a FIFO swapped in opens at once (and is then refused) instead of hanging the request
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_HASH_CHUNK = 1 << 20


def open_below(root: Path | str, rel: str) -> BinaryIO | None:
    """Open the regular file `root/rel` for reading, walking down from `root` one folder at a time and refusing
    any symlink below it (or `..`, or anything but a regular file at the end); None when refused or missing."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or any(p in (".", "..") for p in parts):
        return None
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        for part in parts[:-1]:
            below = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = below
        file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    except (OSError, ValueError):  # ELOOP for a symlink, ENOTDIR, ENOENT, EACCES ...; ValueError: a NUL byte
        return None
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(file_fd).st_mode):
        os.close(file_fd)
        return None
    return os.fdopen(file_fd, "rb")


class _VerifiedFiles:
    """Files whose content hash was checked, by (device, inode, size, mtime, ctime, hash): each is hashed once.

    A swapped-in file (link, copy, hard link) is another inode and is hashed again; a rewrite in place changes
    the change time, which no one can set back."""

    def __init__(self, limit: int = 65536) -> None:
        self._seen: OrderedDict[tuple[int, int, int, int, int, str], None] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def check(self, fh: BinaryIO, sha256: str) -> bool:
        st = os.fstat(fh.fileno())
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, sha256)
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return True
        digest = hashlib.sha256()
        while block := fh.read(_HASH_CHUNK):
            digest.update(block)
        fh.seek(0)
        if digest.hexdigest() != sha256:
            return False
        with self._lock:
            self._seen[key] = None
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)
        return True


_verified = _VerifiedFiles()


def open_original(row: ImageRow) -> BinaryIO | None:
    """The image's original file, opened, when it is still the catalogued file: below its ingest root through no
    symlink, a regular file of the catalogued size and content hash; None otherwise."""
    fh = open_below(row.root, row.path)
    if fh is None:
        return None
    try:
        if os.fstat(fh.fileno()).st_size == row.size_bytes and _verified.check(fh, row.sha256):
            return fh
    except OSError:
        pass
    fh.close()
    return None
