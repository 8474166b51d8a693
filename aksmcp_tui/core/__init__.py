"""Plain-asyncio core: no Textual imports here (see DESIGN.md, Rules of the house)."""
