"""The idx format of MNIST and Fashion-MNIST: read and write, gzipped or raw. No Ray imports.

Layout (big-endian): two zero bytes, a type code, the number of dimensions, one uint32 per
dimension, then the values in C order. See http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

# idx type code -> big-endian numpy dtype
TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_FOR_KIND = {(dtype.kind, dtype.itemsize): code for code, dtype in TYPE_CODES.items()}


class IdxFormatError(ValueError):
    """A file that is not a well-formed idx file (wrong magic, unknown type, truncated)."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an idx file (gzip detected from its content, not its name) into a native-endian array."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw
    except (OSError, EOFError) as err:  # gzip raises EOFError/BadGzipFile (an OSError) on truncation
        raise IdxFormatError(f"{path}: cannot read idx data: {err}") from err
    return parse_idx(data, source=str(path))


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    if len(data) < 4:
        raise IdxFormatError(f"{source}: too short for an idx header ({len(data)} bytes)")
    zero1, zero2, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero1 != 0 or zero2 != 0:
        raise IdxFormatError(
            f"{source}: wrong magic number {data[:4].hex()} (an idx file starts with two zero bytes)"
        )
    if type_code not in TYPE_CODES:
        raise IdxFormatError(f"{source}: unknown idx type code 0x{type_code:02x}")
    if ndim == 0:
        raise IdxFormatError(f"{source}: idx header declares zero dimensions")
    header_end = 4 + 4 * ndim
    if len(data) < header_end:
        raise IdxFormatError(f"{source}: truncated header (needs {header_end} bytes, has {len(data)})")
    shape = struct.unpack(f">{ndim}I", data[4:header_end])
    dtype = TYPE_CODES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_end
    if actual != expected:
        kind = "truncated" if actual < expected else "has trailing bytes"
        raise IdxFormatError(
            f"{source}: {kind}: shape {tuple(shape)} needs {expected} data bytes, found {actual}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_end).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(array: np.ndarray, path: str | Path, compress: bool | None = None) -> Path:
    """Write `array` as an idx file; gzip it when `compress` is true (default: when the name ends in .gz)."""
    path = Path(path)
    array = np.asarray(array)
    key = (array.dtype.kind, array.dtype.itemsize)
    if key not in _CODE_FOR_KIND:
        raise ValueError(f"dtype {array.dtype} has no idx type code (use uint8, int8/16/32, float32/64)")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"idx needs 1..255 dimensions, got {array.ndim}")
    code = _CODE_FOR_KIND[key]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype=TYPE_CODES[code]).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0: the same array always gives the same bytes.
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)
    return path
