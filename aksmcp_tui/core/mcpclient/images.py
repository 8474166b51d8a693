"""Decode an image a tool returned, for a preview: Pillow reads it, this module says why when it cannot.

No Textual here: the screen turns a `DecodedImage` into a widget (aksmcp_tui/ui/screens/console_image.py)
and shows `NoPreview.reason` as "no preview: <why>". Pillow is imported on first use, not at start-up.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

# Raster formats a preview is offered for (what Pillow decodes and a tool plausibly returns). Anything else
# (SVG, PDF, HEIC without a plugin, a mistyped mime type) gets a reason instead of a guess.
PREVIEW_MIME_TYPES: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
}
# A result is untrusted input: refuse to decode a "decompression bomb" (a small file that inflates to
# gigapixels) instead of letting a preview eat the console's memory.
MAX_PIXELS = 4096 * 4096
# The preview's largest footprint in terminal cells; a cell is about twice as tall as wide, and the
# half-block fallback shows two pixel rows per cell, so one cell row covers two "pixels" of the scaled image.
MAX_COLS = 48
MAX_ROWS = 16


@dataclass(frozen=True)
class DecodedImage:
    image: Any  # a loaded PIL.Image.Image (Any: Pillow stays an import-on-use dependency)
    format: str
    width: int
    height: int
    cols: int  # the preview's size in terminal cells, aspect kept
    rows: int

    @property
    def caption(self) -> str:
        return f"{self.format} {self.width}x{self.height} px"


@dataclass(frozen=True)
class NoPreview:
    reason: str

    @property
    def caption(self) -> str:
        return f"no preview: {self.reason}"


def preview_cells(width: int, height: int, max_cols: int = MAX_COLS, max_rows: int = MAX_ROWS) -> tuple[int, int]:
    """The preview's size in cells: as large as fits max_cols x max_rows, aspect ratio kept."""
    scale = min(max_cols / width, (max_rows * 2) / height)
    return max(1, round(width * scale)), max(1, round(height * scale / 2))


def decode_image(data: bytes | None, mime_type: str | None) -> DecodedImage | NoPreview:
    """Decode image bytes for a preview; every failure is a `NoPreview` with the reason, never an exception."""
    mime = (mime_type or "").split(";")[0].strip().lower()
    expected = PREVIEW_MIME_TYPES.get(mime)
    if expected is None:
        return NoPreview(f"{mime or 'no mime type'} is not a raster image type aksmcp previews")
    if not data:
        return NoPreview("no image data (empty, or not valid base64)")
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[expected])
            width, height = image.size
            if width * height > MAX_PIXELS:
                return NoPreview(f"{width}x{height} px is too large to decode for a preview")
            image.load()  # a truncated or corrupt body fails here, not later in the renderer
    except UnidentifiedImageError:
        return NoPreview(f"the data is not a valid {expected} image (Pillow cannot read it as {expected})")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return NoPreview(f"the image is too large to decode for a preview ({exc})")
    except (OSError, SyntaxError, ValueError) as exc:  # what Pillow raises on broken data
        return NoPreview(f"the {expected} data is corrupt ({exc})")
    cols, rows = preview_cells(width, height)
    return DecodedImage(image, expected, width, height, cols, rows)
