"""Image cutouts as PNG: FITS (gzipped for ZTF, plain for Rubin) to an 8-bit grey image.

The pixels are scaled with IRAF's zscale interval (astropy's
``ZScaleInterval``), non-finite pixels are drawn black, and rows are flipped
so that the image's first FITS row is at the bottom, as astronomers display
it.  The PNG is written here with ``zlib`` (one IDAT chunk, no filter), so no
imaging library is needed.

Examples
--------
>>> png = png_bytes([[0, 128], [255, 64]])
>>> png[:8] == PNG_SIGNATURE, len(png) > 40
(True, True)
"""

from __future__ import annotations

import gzip
import io
import struct
import warnings
import zlib
from collections.abc import Sequence

import numpy as np

from broker.core.errors import FauconError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GZIP_MAGIC = b"\x1f\x8b"


class CutoutError(FauconError):
    """A cutout's bytes are not a readable FITS image."""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bytes(pixels: Sequence[Sequence[int]] | np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a 2-D array of values 0..255 (first row on top)."""
    image = np.asarray(pixels, dtype=np.uint8)
    if image.ndim != 2 or 0 in image.shape:
        raise CutoutError(f"a PNG needs a non-empty 2-D image, not shape {image.shape}")
    height, width = image.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    rows = b"".join(b"\x00" + image[i].tobytes() for i in range(height))
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 6)) \
        + _chunk(b"IEND", b"")  # fmt: skip


def fits_image(data: bytes) -> np.ndarray:
    """The first 2-D image of a FITS file (gzipped or not), as float64.

    Raises
    ------
    CutoutError
        When the bytes are not a FITS file with a 2-D image.
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    try:
        raw = gzip.decompress(data) if data[:2] == GZIP_MAGIC else data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)  # Rubin's SIMPLE card
            with fits.open(io.BytesIO(raw), memmap=False) as hdus:
                for hdu in hdus:
                    if hdu.data is not None and np.ndim(hdu.data) == 2:
                        return np.asarray(hdu.data, dtype=np.float64)
    except (OSError, ValueError, EOFError, TypeError) as exc:
        raise CutoutError(f"cutout is not a readable FITS file: {exc}") from exc
    raise CutoutError("cutout FITS file holds no 2-D image")


def scaled(image: np.ndarray) -> np.ndarray:
    """Pixels mapped to 0..255 with the zscale interval (non-finite pixels: 0)."""
    from astropy.visualization import ZScaleInterval

    finite = np.isfinite(image)
    out = np.zeros(image.shape, dtype=np.uint8)
    if not finite.any():
        return out
    low, high = ZScaleInterval().get_limits(image[finite])
    if not high > low:
        low, high = float(image[finite].min()), float(image[finite].max())
    span = high - low if high > low else 1.0
    values = np.clip((image - low) / span, 0.0, 1.0) * 255.0
    out[finite] = np.round(values[finite]).astype(np.uint8)
    return out


def cutout_png(data: bytes) -> bytes:
    """PNG of a survey cutout (see the module doc)."""
    return png_bytes(scaled(fits_image(data))[::-1])
