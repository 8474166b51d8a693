"""A one-line choice (< value >): left/right, space or a click cycles it.

The console's forms use it for enums and for picking a oneOf/anyOf branch. Textual's `Select` carries an
overlay list per instance and costs some 30 ms to mount; a tool schema with dozens of enums must not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget


class Choice(Widget, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,space,enter", "step(1)", "Next", show=False),
        Binding("left", "step(-1)", "Previous", show=False),
    ]
    DEFAULT_CSS = """
    Choice { height: 1; width: auto; min-width: 12; padding: 0 1; background: $boost; }
    Choice:focus { background: $accent 30%; text-style: bold; }
    Choice.-invalid { background: $error 30%; }
    """

    @dataclass
    class Changed(Message):
        choice: Choice
        value: Any

        @property
        def control(self) -> Choice:
            return self.choice

    def __init__(
        self, options: list[tuple[str, Any]], value: Any = None, *, blank: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.options: list[tuple[str, Any]] = ([(blank, None)] if blank is not None else []) + list(options)
        self.index = next((i for i, (_, v) in enumerate(self.options) if v == value), 0)

    @property
    def value(self) -> Any:
        return self.options[self.index][1] if self.options else None

    @value.setter
    def value(self, new: Any) -> None:
        for i, (_, v) in enumerate(self.options):
            if v == new:
                self._set_index(i)
                return
        raise ValueError(f"{new!r} is not one of the choices")

    def _set_index(self, index: int) -> None:
        if not self.options:
            return
        index %= len(self.options)
        changed = index != self.index
        self.index = index
        self.refresh(layout=True)
        if changed:
            self.post_message(self.Changed(self, self.value))

    def render(self) -> Text:
        label = self.options[self.index][0] if self.options else ""
        return Text.assemble(("◂ ", "dim"), label, (" ▸", "dim"))

    def get_content_width(self, container: Any, viewport: Any) -> int:
        return max((len(label) for label, _ in self.options), default=0) + 4

    def action_step(self, delta: int) -> None:
        self._set_index(self.index + delta)

    def on_click(self, event: events.Click) -> None:
        self._set_index(self.index + 1)
