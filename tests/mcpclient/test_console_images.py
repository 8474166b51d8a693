"""Image results: a preview drawn by textual-image where the terminal can, "no preview: <why>" for a corrupt
image or a type that is not a raster image, and `aksmcp call -o json` unchanged."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from aksmcp_tui.core.mcpclient import parse_target
from aksmcp_tui.core.mcpclient.images import DecodedImage, NoPreview, decode_image, preview_cells
from aksmcp_tui.ui.console_app import ConsoleApp
from aksmcp_tui.ui.screens.console_image import ImagePreview
from tests.mcpclient.conftest import Served
from tests.mcpclient.test_console_screen import SIZE, _connected, wait_for

pytestmark = pytest.mark.timeout(120)


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height)).save(out, format="PNG")
    return out.getvalue()


def test_decode_sizes_and_reasons() -> None:
    decoded = decode_image(_png(24, 12), "image/png")
    assert isinstance(decoded, DecodedImage)
    assert (decoded.width, decoded.height, decoded.format) == (24, 12, "PNG")
    assert (decoded.cols, decoded.rows) == preview_cells(24, 12) == (48, 12)
    assert preview_cells(1000, 10) == (48, 0 + 1)  # a strip keeps at least one row
    assert preview_cells(10, 1000) == (1, 16)
    svg = decode_image(b"<svg/>", "image/svg+xml")
    assert isinstance(svg, NoPreview) and svg.caption.startswith("no preview: image/svg+xml is not a raster")
    corrupt = decode_image(_png(24, 12)[:40] + b"junk" * 10, "image/png")
    assert isinstance(corrupt, NoPreview) and "not a valid PNG" in corrupt.reason
    truncated = decode_image(_png(64, 64)[:-30], "image/png")  # identified, then fails to load
    assert isinstance(truncated, NoPreview) and "PNG data is corrupt" in truncated.reason
    mislabelled = decode_image(_png(4, 4), "image/jpeg")  # the bytes are a PNG: the mime type is believed
    assert isinstance(mislabelled, NoPreview) and "not a valid JPEG" in mislabelled.reason
    assert isinstance(decode_image(b"", "image/png"), NoPreview)
    assert "not a raster" in decode_image(b"x", None).caption  # type: ignore[union-attr]
    # a small file that would inflate to 20 megapixels is refused before it is decoded
    bomb = decode_image(_png(5000, 4000, mode="1"), "image/png")
    assert isinstance(bomb, NoPreview) and "too large" in bomb.reason


async def test_preview_in_the_console(zoo: Served) -> None:
    app = ConsoleApp(parse_target(zoo.url), label="zoo")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _connected(pilot)
        screen.select_tool("photo")
        await wait_for(pilot, lambda: screen.form_ready, "the form")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.calls_done == 1, "the call")
        await pilot.pause()
        assert "[image image/png," in screen.result_text
        assert "preview: PNG 24x12 px as 48x12 cells (Unicode)" in screen.result_text  # no TTY under pytest
        preview = screen.query_one(ImagePreview)
        picture = preview.query_one("#image-picture")
        assert (picture.size.width, picture.size.height) == (48, 12)
        assert picture.image.size == (24, 12)  # type: ignore[attr-defined]
        assert [picture.image.getpixel((x, 5)) for x in (0, 12, 23)] == [(255, 0, 0), (0, 160, 0), (0, 0, 255)]  # type: ignore[attr-defined]
        rendered = "".join(segment.text for segment in picture.render_lines(picture.region.reset_offset)[0])
        assert rendered.strip()  # the renderer drew something on the first row
        # corrupt data and a type that is not a raster image: a reason, no picture, no crash
        for kind, reason in (
            ("corrupt", "no preview: the data is not a valid PNG image"),
            ("svg", "no preview: image/svg+xml"),
        ):
            raw = screen.query_one("#raw")
            if not screen.raw_mode:
                await pilot.press("ctrl+r")
            raw.text = json.dumps({"kind": kind})  # type: ignore[attr-defined]
            done = screen.calls_done
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda d=done: screen.calls_done == d + 1, f"the {kind} call")  # type: ignore[misc]
            await pilot.pause()
            assert reason in screen.result_text, screen.result_text
            assert not screen.query(ImagePreview) and app.is_running
            assert not screen.query_one("#result").has_class("-error")


def test_call_json_output_is_unchanged(zoo: Served, capsys: pytest.CaptureFixture[str]) -> None:
    from aksmcp_tui.cli import main

    assert main(["call", zoo.url, "photo", "-o", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) >= {"content", "isError"} and "preview" not in json.dumps(document)
    image = document["content"][1]
    assert image["type"] == "image" and image["mimeType"] == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(image["data"]))).size == (24, 12)
    assert main(["call", zoo.url, "photo"]) == 0
    plain = capsys.readouterr().out
    assert "a png" in plain and "[image image/png," in plain


async def test_half_blocks_draw_the_pixels(zoo: Served) -> None:
    """On a terminal without Sixel or Kitty graphics the preview is coloured half-blocks: the cells carry the
    image's colours (the three bands of the zoo's PNG), left to right."""
    from textual.app import App, ComposeResult
    from textual_image.widget import HalfcellImage

    from tests.mcpclient.zoo_server import _stripes_png

    decoded = decode_image(_stripes_png(), "image/png")
    assert isinstance(decoded, DecodedImage)

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield ImagePreview(decoded, HalfcellImage)

    app = One()
    async with app.run_test(size=(80, 20)) as pilot:
        await pilot.pause()
        picture = app.query_one("#image-picture")
        assert (picture.size.width, picture.size.height) == (decoded.cols, decoded.rows) == (48, 12)
        row = picture.render_lines(picture.region.reset_offset)[6]
        colours = [s.style.bgcolor or s.style.color for s in row if s.style is not None and s.text.strip(" ") != ""]
        triplets = [c.get_truecolor() for c in colours if c is not None]
        assert triplets, "no coloured cells"
        assert tuple(triplets[0]) == (255, 0, 0) and tuple(triplets[-1]) == (0, 0, 255)
        assert (0, 160, 0) in [tuple(t) for t in triplets]
