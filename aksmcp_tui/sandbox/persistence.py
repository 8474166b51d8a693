"""Cluster state on disk: one SQLite file (state.db), written in the background.

A missing, corrupt or foreign file is reported in one log line and replaced by a fresh
cluster; the damaged file is kept beside it for inspection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from aksmcp_tui.sandbox.store import Store, dump_json

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.notice: str | None = None  # set when the state file was damaged, for the user

    def _connect(self) -> sqlite3.Connection:
        # The file holds Secrets: create it owner-only before SQLite opens it (the WAL and shm files
        # SQLite adds take the database file's permissions).
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute(
            "CREATE TABLE IF NOT EXISTS objects (resource TEXT NOT NULL, namespace TEXT NOT NULL, "
            "name TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (resource, namespace, name))"
        )
        return db

    def load_into(self, store: Store) -> None:
        """Fill the store from disk; on any damage start fresh and set `notice`."""
        existed = self.path.exists()
        try:
            db = self._connect()
            rows = db.execute("SELECT value FROM meta WHERE key='schema'").fetchall()
            if existed and rows and rows[0][0] != SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"unknown state schema {rows[0][0]!r}")
            rv_row = db.execute("SELECT value FROM meta WHERE key='resourceVersion'").fetchall()
            objects: list[tuple[str, dict[str, Any]]] = []
            for resource, body in db.execute("SELECT resource, body FROM objects"):
                obj = json.loads(body)
                if not isinstance(obj, dict):
                    raise ValueError("stored object is not a JSON object")
                objects.append((resource, obj))
            rv = int(rv_row[0][0]) if rv_row else 0
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        except (sqlite3.DatabaseError, ValueError, TypeError) as error:
            with contextlib.suppress(Exception):
                db.close()
            backup = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            with contextlib.suppress(OSError):
                self.path.rename(backup)
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(OSError):
                    self.path.with_name(self.path.name + suffix).unlink()
            self.notice = (
                f"sandbox state file {self.path} could not be read ({error}); "
                f"starting a fresh cluster (the old file was moved to {backup.name})"
            )
            log.warning("%s", self.notice)
            db = self._connect()
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            objects, rv = [], 0
        else:
            if not existed:
                log.info("no sandbox state at %s; starting a fresh cluster", self.path)
        self._db = db
        store.load(objects, rv)

    def _write(self, changes: dict[tuple[str, str, str], str | None], rv: str) -> None:
        db = self._db
        if db is None:
            return
        with db:
            db.execute("BEGIN")
            upserts = [(r, ns, n, body) for (r, ns, n), body in changes.items() if body is not None]
            deletes = [(r, ns, n) for (r, ns, n), body in changes.items() if body is None]
            if upserts:
                db.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)", upserts)
            if deletes:
                db.executemany("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", deletes)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('resourceVersion', ?)", (rv,))

    async def flush(self, store: Store) -> None:
        async with self._lock:
            dirty = store.take_dirty()
            if not dirty:
                return
            rv = store.resource_version
            # Stored dicts are never mutated, so serialising them in a thread is safe.
            changes = {key: (dump_json(obj) if obj is not None else None) for key, obj in dirty.items()}
            write = asyncio.ensure_future(asyncio.to_thread(self._write, changes, rv))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                # The thread cannot be stopped: keep the lock, and so the connection (close() takes it
                # under the lock), until the write is done. Closing SQLite under a write crashed the
                # process, and the changes, already taken from the store, were lost.
                await _until_done(write)
                raise

    def start(self, store: Store, interval: float = 0.5) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.flush(store)
                except Exception:
                    log.exception("writing sandbox state failed")

        self._task = asyncio.create_task(loop(), name="sandbox-persistence")

    async def close(self, store: Store) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush(store)
        finally:
            async with self._lock:
                if self._db is not None:
                    self._db.close()
                    self._db = None


async def _until_done(future: asyncio.Future[None]) -> None:
    """Wait for `future` whatever cancellations arrive meanwhile (the caller re-raises its own)."""
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait([future])
