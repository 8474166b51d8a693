"""Image previews in the console's result pane, drawn by textual-image: Sixel or Kitty graphics where the
terminal speaks them, coloured half-blocks on any other terminal, plain Unicode when there is none.

textual-image asks the terminal what it supports (and its cell size) when `textual_image.widget` is first
imported, and that only works before Textual owns the terminal: `prepare()` does it, and the commands that
start an app call it first. Imported later inside a running app on a real terminal, the query would fight
Textual for stdin; the preview then says so instead.
"""

from __future__ import annotations

import sys
from typing import Any

from textual.widget import Widget
from textual.widgets import Static

from aksmcp_tui.core.mcpclient.images import DecodedImage, NoPreview, decode_image

_prepared = False
# textual-image's renderable modules -> what the caption calls the method it picked
_METHODS = {"sixel": "Sixel", "tgp": "Kitty graphics", "halfcell": "half-blocks", "unicode": "Unicode"}


def prepare() -> None:
    """Ask the terminal about graphics now, before an app starts (a no-op after the first call)."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    try:
        import textual_image.widget  # noqa: F401  (the import is the query)
    except Exception:  # a terminal that answers oddly must not stop the app: previews say why later
        return


def _image_widget_class() -> type[Widget] | str:
    """textual-image's best widget for this terminal, or why there is none."""
    tty = sys.__stdout__ is not None and sys.__stdout__.isatty()
    if tty and not _prepared and "textual_image.widget" not in sys.modules:
        return "the terminal was not asked about graphics before the screen started"
    try:
        from textual_image.widget import Image
    except Exception as exc:  # a broken install: say so in the caption, keep the console
        return f"textual-image is not usable ({type(exc).__name__}: {exc})"
    return Image


def method_name() -> str:
    """How previews are drawn on this terminal (for the caption)."""
    try:
        from textual_image.renderable import Image
    except Exception:
        return "none"
    return _METHODS.get(Image.__module__.rsplit(".", 1)[-1], Image.__name__)


class ImagePreview(Widget):
    """The picture itself, sized in cells (see aksmcp_tui.core.mcpclient.images.preview_cells)."""

    DEFAULT_CSS = "ImagePreview { height: auto; width: auto; }"

    def __init__(self, decoded: DecodedImage, image_class: type[Widget]) -> None:
        super().__init__(classes="result-part result-image-preview")
        self.decoded = decoded
        self._image_class = image_class

    def compose(self) -> Any:
        picture = self._image_class(self.decoded.image, id="image-picture")
        picture.styles.width = self.decoded.cols
        picture.styles.height = self.decoded.rows
        yield picture


def preview_widgets(data: bytes | None, mime_type: str | None) -> tuple[list[Widget], str]:
    """The widgets under an image part and the line result_text gets: a caption and the picture, or the
    reason there is no preview. Never raises: a bad image is a sentence, not a crash."""
    decoded = decode_image(data, mime_type)
    if isinstance(decoded, NoPreview):
        return [Static(decoded.caption, classes="form-hint image-caption", markup=False)], decoded.caption
    image_class = _image_widget_class()
    if isinstance(image_class, str):
        caption = NoPreview(f"{decoded.caption}; {image_class}").caption
        return [Static(caption, classes="form-hint image-caption", markup=False)], caption
    caption = f"preview: {decoded.caption} as {decoded.cols}x{decoded.rows} cells ({method_name()})"
    widgets: list[Widget] = [
        Static(caption, classes="form-hint image-caption", markup=False),
        ImagePreview(decoded, image_class),
    ]
    return widgets, caption
