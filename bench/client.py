"""A minimal HTTP/1.1 keep-alive client over asyncio streams.

It does only what the benchmarks need so that the client costs little CPU next to the server
it measures: no URL parsing, no chunked bodies, no redirects, one request at a time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    etag: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ProtocolError(RuntimeError):
    pass


class Connection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host_header: bytes
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._host = host_header

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}".encode())

    async def request(
        self, method: str, path: str, headers: bytes = b"", body: bytes | None = None
    ) -> Answer:
        """Send one request and read its answer. `headers` are ready-made `Name: value\\r\\n`
        lines, so callers build the fixed ones once."""
        head = f"{method} {path} HTTP/1.1\r\n".encode() + b"Host: " + self._host + b"\r\n"
        if body is None:
            self._writer.write(head + headers + b"\r\n")
        else:
            length = f"Content-Length: {len(body)}\r\n\r\n".encode()
            self._writer.write(head + headers + length + body)
        return await self._read_answer()

    async def _read_answer(self) -> Answer:
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        etag = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"etag":
                etag = value.strip().decode()
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked answers are not supported by the bench client")
        if length is None:
            raise ProtocolError(f"answer {status} without content-length")
        body = await self._reader.readexactly(length) if length else b""
        return Answer(status, etag, body)

    async def close(self) -> None:
        self._writer.close()
        with suppress(ConnectionError):
            await self._writer.wait_closed()


@asynccontextmanager
async def open_connections(host: str, port: int, count: int) -> AsyncIterator[list[Connection]]:
    """`count` keep-alive connections, closed when the block ends.

    uvicorn drops connections idle for 5 s, so open them for a phase rather than for a run.
    """
    connections: list[Connection] = []
    try:
        for _ in range(count):
            connections.append(await Connection.open(host, port))
        yield connections
    finally:
        for connection in connections:
            await connection.close()
