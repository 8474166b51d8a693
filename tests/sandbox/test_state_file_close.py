"""The sandbox's state file: closing it while a write is in its thread waits for that write.

Seen in CI: a flush cancelled mid-write let close() close the SQLite connection under the writing
thread, which crashed the test process (and would have lost the changes already taken from the store).
Here a second connection holds SQLite's write lock, so the write waits in its thread for as long as
the test says."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from aksmcp_tui.sandbox.persistence import StateFile
from aksmcp_tui.sandbox.store import Store

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "namespace": "default"}}


async def test_close_during_a_cancelled_write_waits_for_it_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state, store = StateFile(path), Store()
    state.load_into(store)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the state file's write now waits in its thread
    try:
        store.create_now("configmaps", CONFIG_MAP)
        flushing = asyncio.create_task(state.flush(store))
        await asyncio.sleep(0)  # one step: the flush takes the lock and the changes, and hands them over
        assert state._lock.locked() and not flushing.done()
        flushing.cancel()
        closing = asyncio.create_task(state.close(store))
        for _ in range(5):  # let close() reach the point where it would close the connection
            await asyncio.sleep(0)
        assert not closing.done()  # the write is still blocked, so the connection must still be open
    finally:
        blocker.rollback()
        blocker.close()
    async with asyncio.timeout(30):
        await closing
        assert flushing.cancelled()
    reader = sqlite3.connect(path)
    try:
        names = [row[0] for row in reader.execute("SELECT name FROM objects WHERE resource = 'configmaps'")]
    finally:
        reader.close()
    assert names == ["kept"]
