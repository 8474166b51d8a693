"""Plain-text formatting for the dashboard (no Textual imports: unit-testable on its own)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def format_age(created: datetime | None, now: datetime) -> str:
    """The age of an object the way kubectl prints it (apimachinery's HumanDuration)."""
    if created is None:
        return "—"
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    seconds = int((now - created).total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y{rest}d" if rest else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def health_label(health: str) -> str:
    """'scaled_down' → 'Scaled down': the table shows words, not enum values."""
    text = str(health).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:].lower() if text else "Unknown"


def health_class(health: str) -> str:
    """CSS-safe suffix for the component class that colours a health cell."""
    return str(health).lower().replace("_", "-").replace(" ", "-") or "unknown"
