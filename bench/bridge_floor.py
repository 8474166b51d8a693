"""The least a stdio→HTTP bridge can do, as a yardstick for bench/bridge.py (target `floor`). Not a product.

    python bench/bridge_floor.py PORT -- COMMAND [ARGS...]

2025-11-25 only. One child, its handshake done once, ids remapped, HTTP/1.1 keep-alive parsed by hand
for the benchmark's own requests only: no auth, no Host/Origin checks, no sessions, no metrics, no logs, no SSE. Every
request is answered 200 with the child's JSON answer (initialize from the handshake, notifications 202).
What it costs per call is the price of the extra process and hops themselves (a loopback TCP request and
answer, a pipe write and read, the wake-ups), so a bridge's share of direct stdio can be read against it:
the gap between `floor` and `aksmcp` is aksmcp's own work; the gap between `direct` and `floor` is not.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any, cast

LEGACY = "2025-11-25"

try:  # the JSON library aksmcp's bridge uses, so the comparison is of the work, not of the parser
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    loads: Any = orjson.loads
except ImportError:  # pragma: no cover

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    loads = json.loads


class Child:
    """The stdio server on non-blocking pipes; writes of one loop turn leave together (as aksmcp's do)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.next_id = 1
        self.read_buffer = bytearray()
        self.write_buffer = bytearray()

    async def start(self) -> None:
        child_stdin, self.stdin = os.pipe()
        self.stdout, child_stdout = os.pipe()
        self.proc = await asyncio.create_subprocess_exec(
            *self.command, stdin=child_stdin, stdout=child_stdout, stderr=asyncio.subprocess.DEVNULL
        )
        os.close(child_stdin)
        os.close(child_stdout)
        os.set_blocking(self.stdin, False)
        os.set_blocking(self.stdout, False)
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.stdout, self.readable)
        params = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "floor", "version": "0"}}
        self.init_result = (await self.send({"jsonrpc": "2.0", "method": "initialize", "params": params}))["result"]
        self.write({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def write(self, message: dict[str, Any]) -> None:
        if not self.write_buffer:
            self.loop.call_soon(self.flush)
        self.write_buffer += dumps(message) + b"\n"

    def flush(self) -> None:
        written = os.write(self.stdin, self.write_buffer)  # the benchmark's requests never fill the pipe
        del self.write_buffer[:written]
        if self.write_buffer:
            self.loop.call_soon(self.flush)

    def send(self, message: dict[str, Any]) -> asyncio.Future[dict[str, Any]]:
        child_id = self.next_id
        self.next_id += 1
        message["id"] = child_id
        future: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        self.pending[child_id] = future
        self.write(message)
        return future

    def readable(self) -> None:
        self.read_buffer += os.read(self.stdout, 1 << 18)
        *lines, rest = self.read_buffer.split(b"\n")
        self.read_buffer = bytearray(rest)
        for line in lines:
            answer = loads(line)
            future = self.pending.pop(answer.get("id"), None)
            if future is not None:
                future.set_result(answer)


class Floor(asyncio.Protocol):
    def __init__(self, child: Child) -> None:
        self.child = child
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, but is one

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = next(
                (int(v) for k, _, v in (h.partition(":") for h in head[1:]) if k.lower() == "content-length"), 0
            )
            if len(self.buffer) < end + 4 + length:
                return
            body, self.buffer = self.buffer[end + 4 : end + 4 + length], self.buffer[end + 4 + length :]
            self.serve(loads(body) if body else {})

    def serve(self, message: dict[str, Any]) -> None:
        if "id" not in message:
            self.reply(202, b"")
        elif message.get("method") == "initialize":
            answer = {"jsonrpc": "2.0", "id": message["id"], "result": self.child.init_result}
            self.reply(200, dumps(answer), b"mcp-session-id: floor\r\n")
        else:
            client_id = message["id"]
            self.child.send(message).add_done_callback(lambda future: self.answer(future.result(), client_id))

    def answer(self, answer: dict[str, Any], client_id: Any) -> None:
        answer["id"] = client_id
        self.reply(200, dumps(answer))

    def reply(self, status: int, body: bytes, extra: bytes = b"") -> None:
        head = b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n"
        self.transport.write(head % (status, len(body), extra) + body)


async def serve(port: int, command: list[str]) -> None:
    child = Child(command)
    await child.start()
    server = await asyncio.get_running_loop().create_server(lambda: Floor(child), "127.0.0.1", port)
    await server.serve_forever()


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: bridge_floor.py PORT -- COMMAND [ARGS...]")
    try:
        import uvloop  # the load generator and aksmcp's bridge run on it too
    except ImportError:
        asyncio.run(serve(int(sys.argv[1]), sys.argv[3:]))
    else:
        uvloop.run(serve(int(sys.argv[1]), sys.argv[3:]))


if __name__ == "__main__":
    main()
