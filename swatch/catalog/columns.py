"""Compact columns for the metadata snapshot: strings in one UTF-8 buffer, lookups by hash, a byte-level text search."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import overload

import numpy as np

#: paths may carry lone surrogates (undecodable file-name bytes): they travel through the buffers unchanged
_ERRORS = "surrogatepass"
#: bytes of the haystack compared at once by the text search (bounds its temporary arrays)
_CHUNK = 1 << 22


def _offsets(lengths: Iterable[int], n: int) -> np.ndarray:
    ends = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(lengths, np.int64, n), out=ends[1:])
    return ends.astype(np.uint32) if ends[-1] < 2**32 else ends


class Texts(Sequence[str | None]):
    """A column of optional strings, one a row (the kinds below)."""

    __slots__ = ()

    def __len__(self) -> int:
        raise NotImplementedError

    def at(self, pos: int) -> str | None:
        """The value of row `pos` (0 <= pos < len)."""
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        raise NotImplementedError

    @overload
    def __getitem__(self, pos: int) -> str | None: ...
    @overload
    def __getitem__(self, pos: slice) -> list[str | None]: ...

    def __getitem__(self, pos: int | slice) -> str | None | list[str | None]:
        if isinstance(pos, slice):
            return [self.at(k) for k in range(*pos.indices(len(self)))]
        if not -len(self) <= pos < len(self):
            raise IndexError(pos)
        return self.at(pos + len(self) if pos < 0 else pos)


class Strings(Texts):
    """A UTF-8 buffer and end offsets; with `coded`, repeated values are kept once and rows hold codes."""

    __slots__ = ("buf", "ends", "null", "codes")

    def __init__(self, values: Sequence[str | None], coded: bool = False):
        n = len(values)
        self.codes: np.ndarray | None = None
        if coded:
            seen: dict[str, int] = {}
            codes = np.fromiter((-1 if v is None else seen.setdefault(v, len(seen)) for v in values), np.int32, n)
            if 2 * len(seen) <= n:  # worth it: at least two rows a value
                self.codes, values, n = codes, list(seen), len(seen)
        nulls = np.fromiter((v is None for v in values), bool, n)
        self.null: np.ndarray | None = nulls if nulls.any() else None
        text = [v or "" for v in values]
        joined = "".join(text)
        self.buf = joined.encode("utf-8", _ERRORS)
        if len(self.buf) == len(joined):  # all ASCII: byte lengths are the string lengths
            self.ends = _offsets(map(len, text), n)
        else:
            self.ends = _offsets((len(v.encode("utf-8", _ERRORS)) for v in text), n)

    def __len__(self) -> int:
        return len(self.codes) if self.codes is not None else len(self.ends) - 1

    def at(self, pos: int) -> str | None:
        if self.codes is not None:
            pos = int(self.codes[pos])
            if pos < 0:
                return None
        if self.null is not None and self.null[pos]:
            return None
        return self.buf[int(self.ends[pos]) : int(self.ends[pos + 1])].decode("utf-8", _ERRORS)

    @property
    def nbytes(self) -> int:
        arrays = (self.ends, self.null, self.codes)
        return len(self.buf) + sum(a.nbytes for a in arrays if a is not None)


class Suffixes(Texts):
    """Values that mostly end another column's plain Strings (file names of paths): the tail's byte length into
    that buffer, the rest (-1) in a Strings of their own."""

    __slots__ = ("whole", "tails", "rest")

    def __init__(self, values: Sequence[str | None], whole: Strings, wholes: Sequence[str | None]):
        assert whole.codes is None and len(whole) == len(values)
        tails = [-1 if v is None or w is None or not w.endswith(v) else len(v) if v.isascii()
                 else len(v.encode("utf-8", _ERRORS)) for v, w in zip(values, wholes, strict=True)]
        self.whole = whole
        self.tails = np.array(tails, np.int32)
        self.rest = Strings([v if t < 0 else None for v, t in zip(values, tails, strict=True)])

    def __len__(self) -> int:
        return len(self.tails)

    def at(self, pos: int) -> str | None:
        tail = int(self.tails[pos])
        if tail < 0:
            return self.rest.at(pos)
        end = int(self.whole.ends[pos + 1])
        return self.whole.buf[end - tail : end].decode("utf-8", _ERRORS)

    @property
    def nbytes(self) -> int:
        return int(self.tails.nbytes) + self.rest.nbytes


class Digests(Texts):
    """Content-hash names as thumbnails are named (`ab/ab…64 hex digits….jpg`): 32 bytes a row."""

    __slots__ = ("digests", "null")

    def __init__(self, digests: np.ndarray, null: np.ndarray):
        self.digests, self.null = digests, null

    @classmethod
    def of(cls, values: Sequence[str | None]) -> Digests | None:
        """The column, or None when a value is not such a name."""
        present = [v for v in values if v is not None]
        if not all(len(v) == 71 and v[2] == "/" and v[:2] == v[3:5] and v.endswith(".jpg") for v in present):
            return None
        hexes = "".join(v[3:67] for v in present)
        try:
            raw = bytes.fromhex(hexes)
        except ValueError:
            return None
        if raw.hex() != hexes:  # upper case digits would not come back as written
            return None
        null = np.fromiter((v is None for v in values), bool, len(values))
        digests = np.zeros((len(values), 32), np.uint8)
        digests[~null] = np.frombuffer(raw, np.uint8).reshape(-1, 32)
        return cls(digests, null)

    def __len__(self) -> int:
        return len(self.null)

    def at(self, pos: int) -> str | None:
        if self.null[pos]:
            return None
        digest = self.digests[pos].tobytes().hex()
        return f"{digest[:2]}/{digest}.jpg"

    @property
    def nbytes(self) -> int:
        return int(self.digests.nbytes + self.null.nbytes)


class Labels(Sequence[str]):
    """Strings without gaps (a categorical column's display values or keys), in one buffer."""

    __slots__ = ("strings",)

    def __init__(self, values: Sequence[str]):
        self.strings = Strings(values)

    def __len__(self) -> int:
        return len(self.strings)

    @overload
    def __getitem__(self, pos: int) -> str: ...
    @overload
    def __getitem__(self, pos: slice) -> list[str]: ...

    def __getitem__(self, pos: int | slice) -> str | list[str]:
        if isinstance(pos, slice):
            return [self.strings.at(k) or "" for k in range(*pos.indices(len(self)))]
        return self.strings[pos] or ""


class KeyIndex(Mapping[str, int]):
    """Key -> code of a categorical column (codes 0..n-1 in key order), without a Python object a key."""

    __slots__ = ("keys_", "hashes", "codes")

    def __init__(self, keys: Sequence[str]):
        self.keys_ = Labels(keys)
        hashes = np.fromiter(map(hash, keys), np.int64, len(keys))
        self.codes = np.argsort(hashes, kind="stable").astype(np.int32)
        self.hashes = hashes[self.codes]

    def __getitem__(self, key: str) -> int:
        h = hash(key)
        for k in range(int(np.searchsorted(self.hashes, h, "left")), int(np.searchsorted(self.hashes, h, "right"))):
            if self.keys_[int(self.codes[k])] == key:
                return int(self.codes[k])
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys_)

    def __len__(self) -> int:
        return len(self.keys_)


class Lookup:
    """Row of a string among distinct rows' strings (hash-sorted): the last row holding it wins."""

    __slots__ = ("hashes", "rows", "strings")

    def __init__(self, values: Sequence[str], strings: Texts):
        hashes = np.fromiter(map(hash, values), np.int64, len(values))
        order = np.argsort(hashes, kind="stable")  # rows ascending within one hash
        self.hashes = hashes[order]
        self.rows = order.astype(np.int32 if len(values) < 2**31 else np.int64)
        self.strings = strings

    def get(self, key: str) -> int | None:
        h = hash(key)
        lo, hi = int(np.searchsorted(self.hashes, h, "left")), int(np.searchsorted(self.hashes, h, "right"))
        for k in range(hi - 1, lo - 1, -1):
            row = int(self.rows[k])
            if self.strings.at(row) == key:
                return row
        return None

    @property
    def nbytes(self) -> int:
        return int(self.hashes.nbytes + self.rows.nbytes)


class Haystack(Sequence[str]):
    """Each row's search text (casefolded), in one UTF-8 buffer with a newline after each row: a word without
    whitespace never matches across two rows."""

    __slots__ = ("buf", "ends", "_bytes", "_freq")

    def __init__(self, texts: Sequence[str]):
        joined = "\n".join(texts) + "\n" if texts else ""
        self.buf = joined.encode("utf-8", _ERRORS)
        del joined
        if len(self.buf) == sum(map(len, texts)) + len(texts):  # all ASCII
            self.ends = _offsets((len(t) + 1 for t in texts), len(texts))
        else:
            self.ends = _offsets((len(t.encode("utf-8", _ERRORS)) + 1 for t in texts), len(texts))
        self._bytes = np.frombuffer(self.buf, np.uint8)
        self._freq = np.bincount(self._bytes, minlength=256)

    def __len__(self) -> int:
        return len(self.ends) - 1

    @overload
    def __getitem__(self, pos: int) -> str: ...
    @overload
    def __getitem__(self, pos: slice) -> list[str]: ...

    def __getitem__(self, pos: int | slice) -> str | list[str]:
        if isinstance(pos, slice):
            return [self[k] for k in range(*pos.indices(len(self)))]
        if pos < 0:
            pos += len(self)
        return self.buf[int(self.ends[pos]) : int(self.ends[pos + 1]) - 1].decode("utf-8", _ERRORS)

    def contains(self, word: str) -> np.ndarray:
        """Per row: whether its text holds `word` (already casefolded)."""
        n = len(self)
        if "\n" in word:  # could straddle the separator: test row by row
            return np.fromiter((word in self[k] for k in range(n)), bool, n)
        needle = np.frombuffer(word.encode("utf-8", _ERRORS), np.uint8)
        if not len(needle):
            return np.ones(n, bool)
        hay, size = self._bytes, len(needle)
        anchor = int(np.argmin(self._freq[needle]))  # compare the rarest byte of the word first
        found = np.zeros(n, bool)
        for start in range(anchor, len(hay) - size + anchor + 1, _CHUNK):
            stop = min(start + _CHUNK, len(hay) - size + anchor + 1)
            at = np.flatnonzero(hay[start:stop] == needle[anchor]) + (start - anchor)
            for k in range(size):
                if k != anchor and len(at):
                    at = at[hay[at + k] == needle[k]]
            found[np.searchsorted(self.ends, at, side="right") - 1] = True
        return found

    @property
    def nbytes(self) -> int:
        return len(self.buf) + int(self.ends.nbytes + self._freq.nbytes)
