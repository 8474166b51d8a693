"""A test MCP server (official SDK) with nested schemas, progress, logs, a slow tool, resources and prompts.

Run: `python zoo_server.py [--port N]` serves Streamable HTTP on 127.0.0.1 and prints `PORT <n>`;
`python zoo_server.py --stdio` serves stdio.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import sys
from typing import Annotated, Any, Literal

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve, Sample
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import (
    AudioContent,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    EmbeddedResource,
    ImageContent,
    InputRequiredResult,
    ResourceLink,
    SamplingMessage,
    TextContent,
    TextResourceContents,
)
from pydantic import BaseModel, Field

PNG_1X1 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d1f5a20000000049454e44ae426082"
    )
).decode()

server = MCPServer("zoo", version="1.2.3", instructions="A zoo of schemas for aksmcp's console tests.")


class Address(BaseModel):
    city: str = Field(description="City name")
    zip: str = Field(pattern=r"^[0-9]{5}$", description="Five digits")


class Customer(BaseModel):
    name: str
    email: str | None = Field(default=None, json_schema_extra={"format": "email"})
    address: Address


class OrderResult(BaseModel):
    order_id: int
    summary: str


@server.tool(description="Create an order (nested objects, $ref/$defs, enum, arrays, nullable, defaults).")
def create_order(
    customer: Customer,
    quantity: int = Field(ge=1, le=100, description="How many"),
    priority: Literal["low", "high"] = "low",
    tags: list[str] | None = None,
    gift: bool = False,
) -> OrderResult:
    summary = f"{quantity} for {customer.name} in {customer.address.city} ({priority})"
    if tags:
        summary += " tags=" + ",".join(tags)
    if gift:
        summary += " gift"
    return OrderResult(order_id=42, summary=summary)


@server.tool(description="Count to N with progress and log notifications.")
async def count(n: int, ctx: Context) -> str:
    for i in range(1, n + 1):
        await ctx.info(f"step {i}")
        await ctx.report_progress(i, n, f"step {i} of {n}")
    return f"counted to {n}"


@server.tool(description="Sleep (for cancellation tests).")
async def slow(seconds: float = 30.0) -> str:
    await anyio.sleep(seconds)
    return "done"


@server.tool(description="An image and a failing flag.")
def picture(fail: bool = False) -> list[TextContent | ImageContent]:
    if fail:
        from mcp.server.mcpserver.exceptions import ToolError

        raise ToolError("no picture today")
    return [TextContent(type="text", text="a dot"), ImageContent(type="image", data=PNG_1X1, mime_type="image/png")]


def _stripes_png() -> bytes:
    """A real 24x12 PNG (three colour bands), encoded by Pillow."""
    import io

    from PIL import Image

    image = Image.new("RGB", (24, 12))
    for x in range(24):
        colour = ((255, 0, 0), (0, 160, 0), (0, 0, 255))[x // 8]
        for y in range(12):
            image.putpixel((x, y), colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@server.tool(description="A picture for the preview: a real PNG, a corrupt one, or an SVG.")
def photo(kind: Literal["png", "corrupt", "svg"] = "png") -> list[TextContent | ImageContent]:
    if kind == "png":
        data, mime = _stripes_png(), "image/png"
    elif kind == "corrupt":
        data, mime = _stripes_png()[:40] + b"\x00garbage" * 8, "image/png"  # a PNG header, then nonsense
    else:
        data, mime = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', "image/svg+xml"
    encoded = base64.b64encode(data).decode()
    return [TextContent(type="text", text=f"a {kind}"), ImageContent(type="image", data=encoded, mime_type=mime)]


class Circle(BaseModel):
    shape: Literal["circle"] = "circle"
    r: float


class Square(BaseModel):
    shape: Literal["square"] = "square"
    side: float


@server.tool(description="Area of a figure (a oneOf/anyOf of two object shapes).")
def area(figure: Circle | Square) -> str:
    if isinstance(figure, Circle):
        return f"circle area {3.14159 * figure.r * figure.r:.2f}"
    return f"square area {figure.side * figure.side:.2f}"


class Confirmation(BaseModel):
    ok: bool
    reason: str = ""


@server.tool(description="Ask the user to confirm (elicitation).")
async def confirm(question: str, ctx: Context) -> str:
    answer = await ctx.elicit(question, schema=Confirmation)
    if answer.action != "accept":
        return f"user said {answer.action}"
    return f"confirmed={answer.data.ok} reason={answer.data.reason}"


@server.tool(description="Add a tool named 'grown' and announce the change (list_changed).")
async def grow(ctx: Context) -> str:
    if "grown" not in [t.name for t in await server.list_tools()]:

        @server.tool(name="grown", description="Added at run time")
        def grown() -> str:
            return "grown"

    await ctx.notify_tools_changed()  # 2026-07-28 subscribers
    with contextlib.suppress(Exception):  # 2025-11-25 sessions (their GET stream)
        await ctx.request_context.session.send_tool_list_changed()
    return "grew"


@server.tool(description="Audio, a resource link and an embedded resource.")
def media() -> list[AudioContent | ResourceLink | EmbeddedResource]:
    return [
        AudioContent(type="audio", data=base64.b64encode(b"RIFF....WAVE").decode(), mime_type="audio/wav"),
        ResourceLink(type="resource_link", uri="zoo://animals", name="animals", mime_type="application/json"),
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(uri="zoo://note", mime_type="text/plain", text="an embedded note"),
        ),
    ]


@server.tool(description="Ask the client's model (sampling).")
async def haiku(topic: str, ctx: Context) -> str:
    reply = await ctx.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text=f"A haiku about {topic}"))],
        max_tokens=50,
    )
    return f"model said: {getattr(reply.content, 'text', reply.content)}"


# Resolver tools: the SDK asks the client the way the negotiated revision wants it, a multi-round-trip
# `input_required` result on 2026-07-28 (the client retries with inputResponses + requestState) and a
# standalone server-to-client request on 2025-11-25.
class Approval(BaseModel):
    approve: bool
    note: str = ""


def ask_approval(change: str) -> Elicit[Approval]:
    return Elicit(f"Approve {change}?", Approval)


@server.tool(description="Approve a change (elicitation through a resolver: input_required on 2026-07-28).")
def approve(change: str, answer: Annotated[ElicitationResult[Approval], Resolve(ask_approval)]) -> str:
    if answer.action != "accept":
        return f"{change}: user said {answer.action}"
    return f"{change}: approve={answer.data.approve} note={answer.data.note}"


def ask_model(topic: str) -> Sample:
    message = SamplingMessage(role="user", content=TextContent(type="text", text=f"A limerick about {topic}"))
    return Sample([message], max_tokens=60)


@server.tool(description="A limerick from the client's model (createMessage via a resolver: input_required).")
def limerick(topic: str, reply: Annotated[CreateMessageResult, Resolve(ask_model)]) -> str:
    return f"model wrote: {getattr(reply.content, 'text', reply.content)}"


@server.tool(description="Never satisfied: asks for input again every round (the client's round cap ends it).")
def nag(ctx: Context) -> InputRequiredResult | str:
    rounds = int(ctx.request_state or "0") + 1
    question = ElicitRequest(
        params=ElicitRequestFormParams(
            message=f"Still sure? (round {rounds})",
            requested_schema={"type": "object", "properties": {"sure": {"type": "boolean"}}, "required": ["sure"]},
        )
    )
    return InputRequiredResult(
        result_type="input_required", input_requests={"sure": question}, request_state=str(rounds)
    )


@server.resource("zoo://animals", description="The animals", mime_type="application/json")
def animals() -> str:
    return '["lion", "zebra"]'


@server.resource("zoo://animal/{name}", description="One animal")
def animal(name: str) -> str:
    return f"{name} is here"


@server.prompt(description="Describe an animal")
def describe(animal: str, style: str = "short") -> str:
    return f"Describe the {animal} in a {style} way."


def _token_audience(authorization: str) -> str | None:
    """The `aud` of an unexpired JWT bearer token (claims only: the test's fake Entra signs nothing)."""
    import json
    import time

    scheme, _, token = authorization.partition(" ")
    parts = token.split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    if not isinstance(claims, dict) or float(claims.get("exp", 0)) < time.time():
        return None
    return str(claims.get("aud"))


def require_audience(app: Any, audience: str) -> Any:
    """An Entra-style bearer check in front of the app: 401 unless the token is for `audience`."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if _token_audience(headers.get(b"authorization", b"").decode()) != audience:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer error="invalid_token"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error": "invalid_token"}'})
                return
        await app(scope, receive, send)

    return guarded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--require-audience", help="serve only bearer tokens issued for this audience")
    args = parser.parse_args()
    if args.stdio:
        server.run()
        return
    app: Any = server.streamable_http_app(
        transport_security=TransportSecuritySettings(allowed_hosts=["127.0.0.1:*"], allowed_origins=[])
    )
    if args.require_audience:
        app = require_audience(app, args.require_audience)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    userver = uvicorn.Server(config)

    async def serve() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(userver.serve)
            while not userver.started:  # noqa: ASYNC110 (uvicorn has no started event)
                await anyio.sleep(0.01)
            port = userver.servers[0].sockets[0].getsockname()[1]
            print(f"PORT {port}", flush=True)

    anyio.run(serve)
    sys.exit(0)


if __name__ == "__main__":
    main()
