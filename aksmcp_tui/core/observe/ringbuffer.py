"""A bounded ring buffer with absolute indexes, for log lines the UI scrolls through.

Why not `collections.deque(maxlen=...)`: the log view reads lines by position (only the visible ones,
every frame), and a deque's indexing is O(n) away from its ends. Here every line keeps an absolute
index (`first` ... `end - 1`) that stays valid until the line is overwritten, so views can remember
positions (search hits, filtered lists) across appends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class RingBuffer(Generic[T]):
    __slots__ = ("_floor", "_items", "capacity", "dropped", "end")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a ring buffer holds at least one item")
        self.capacity = capacity
        self._items: list[T | None] = [None] * capacity
        self.end = 0  # absolute index one past the newest item (= items ever appended)
        self._floor = 0  # items below this index were cleared on purpose (not dropped)
        self.dropped = 0  # items overwritten by newer ones (memory stays bounded; the view says so)

    @property
    def first(self) -> int:
        """Absolute index of the oldest item still held."""
        return max(self._floor, self.end - self.capacity)

    def __len__(self) -> int:
        return self.end - self.first

    def append(self, item: T) -> None:
        if self.end - self.first >= self.capacity:
            self.dropped += 1
        self._items[self.end % self.capacity] = item
        self.end += 1

    def extend(self, items: Iterable[T]) -> None:
        items = list(items)
        self.dropped += max(0, len(self) + len(items) - self.capacity)
        if len(items) > self.capacity:  # only the newest `capacity` survive; count the rest as dropped
            self.end += len(items) - self.capacity
            items = items[-self.capacity :]
        cap = self.capacity
        start = self.end % cap
        head = min(len(items), cap - start)
        self._items[start : start + head] = items[:head]
        if head < len(items):
            self._items[: len(items) - head] = items[head:]
        self.end += len(items)

    def __getitem__(self, index: int) -> T:
        """The item at absolute `index` (IndexError once it was overwritten or not yet written)."""
        if not self.first <= index < self.end:
            raise IndexError(index)
        item = self._items[index % self.capacity]
        assert item is not None
        return item

    def get(self, index: int) -> T | None:
        if not self.first <= index < self.end:
            return None
        return self._items[index % self.capacity]

    def range(self, start: int, stop: int) -> Iterator[T]:
        for index in range(max(start, self.first), min(stop, self.end)):
            item = self._items[index % self.capacity]
            assert item is not None
            yield item

    def __iter__(self) -> Iterator[T]:
        return self.range(self.first, self.end)

    def clear(self) -> None:
        """Forget every item; absolute indexes keep growing (views holding old indexes see them gone)."""
        self._items = [None] * self.capacity
        self._floor = self.end

    def resize(self, capacity: int) -> None:
        """Keep the newest items that fit; indexes stay the same."""
        if capacity < 1:
            raise ValueError("a ring buffer holds at least one item")
        keep = list(self.range(max(self.first, self.end - capacity), self.end))
        self.dropped += len(self) - len(keep)
        end = self.end
        self.capacity = capacity
        self._items = [None] * capacity
        self.end = end - len(keep)
        self._floor = min(self._floor, self.end)
        dropped = self.dropped
        self.extend(keep)
        self.dropped = dropped
