"""A scripted model endpoint on 127.0.0.1, so the real agent CLIs run whole turns offline.

One stdlib HTTP server speaks the three wire formats the CLIs use:

- the Anthropic Messages API (Claude Code): `POST /v1/messages`, streamed as SSE;
- the OpenAI Responses API (Codex): `POST /v1/responses`, streamed as SSE;
- OpenAI Chat Completions (aider): `POST /v1/chat/completions`, streamed as SSE;
- the Gemini API (Gemini CLI): `POST /v1beta/models/M:streamGenerateContent?alt=sse`, streamed as SSE.

A test gives it a script: the model's answers in order, one per request of a turn (a text
reply, or a tool call, which the CLI runs or asks permission for, then sends the next request
with the tool's result). Side requests the CLIs make on their own (Claude's and Codex's title
requests, Claude's connectivity probe) are answered without using up the script. Each answer
carries usage figures, which the CLIs write to their logs, so cost meters can be checked.

An answer can hold back its first byte until the test releases it (`Reply.gate`) or for a
while (`Reply.delay`): a silent model wait, with the CLI showing it is working.

Every request is kept (`endpoint.requests`) for assertions. Nothing here reaches the network.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Usage:
    """Token figures for one answer, as the API reports them."""

    input_tokens: int = 100
    output_tokens: int = 20
    cache_read: int = 0
    cache_write: int = 0


@dataclass
class ToolCall:
    """A tool the model calls. `arguments` is the tool input object (Claude, Codex function tools);
    `raw_input` is a freeform string input (Codex custom tools such as apply_patch)."""

    name: str
    arguments: dict[str, Any] | None = None
    raw_input: str | None = None


@dataclass
class Reply:
    """One answer of the model: text, then optionally a tool call (which ends the step)."""

    text: str = ""
    tool: ToolCall | None = None
    usage: Usage = field(default_factory=Usage)
    delay: float = 0.0  # silence before the first byte
    gate: threading.Event | None = None  # when set, hold the first byte until the test sets it
    chunks: int = 3  # the text is streamed in this many deltas


def text(words: str, **kwargs: Any) -> Reply:
    return Reply(text=words, **kwargs)


def tool(name: str, arguments: dict[str, Any] | None = None, *, raw_input: str | None = None,
         say: str = "", **kwargs: Any) -> Reply:
    return Reply(text=say, tool=ToolCall(name, arguments, raw_input), **kwargs)


@dataclass
class Request:
    """One request the endpoint received."""

    method: str
    path: str
    body: dict[str, Any]
    kind: str  # "claude", "codex", "chat", "title", "probe", "other"
    scripted: bool  # it took an answer from the script
    at: float = field(default_factory=time.monotonic)
    finished: float | None = None  # when the answer's last byte was sent

    @property
    def last_user_text(self) -> str:
        """The text of the last user message (all three formats), for assertions."""
        messages = self.body.get("messages") or self.body.get("input") or []
        for message in reversed(messages if isinstance(messages, list) else []):
            if isinstance(message, dict) and message.get("role") == "user":
                return _flatten(message.get("content"))
        return ""


def _flatten(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_flatten(part.get("text") or part.get("content") or "") if isinstance(part, dict)
                         else str(part) for part in content)
    return ""


class ModelEndpoint:
    """The server; use as a context manager (it runs in a thread) or call start()/stop()."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.unscripted = 0  # scripted-kind requests that found the script empty
        self._script: list[Reply] = []
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "ModelEndpoint":
        endpoint = self

        class Handler(_Handler):
            owner = endpoint

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="model-endpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            with self._lock:
                for reply in self._script:  # nothing may stay blocked on a gate
                    if reply.gate is not None:
                        reply.gate.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "ModelEndpoint":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the endpoint is not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the script -------------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Append answers for the coming requests (in order)."""
        with self._lock:
            self._script.extend(replies)

    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def _answer_for(self, request: Request, side_text: str) -> Reply:
        """The reply to a request: a fixed one for side requests, else the script's next answer."""
        self._record(request)
        if not request.scripted:
            return Reply(text=side_text, usage=Usage(10, 5))
        with self._lock:
            if self._script:
                return self._script.pop(0)
            self.unscripted += 1
        return Reply(text="(the script has no more answers)", usage=Usage(1, 1))

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def wait_requests(self, kind: str, count: int, timeout: float = 60.0) -> list[Request]:
        """Block until `count` requests of `kind` have arrived; returns them."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [r for r in self.requests if r.kind == kind]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(found)} {kind} requests arrived, not {count}: "
                                         f"{[(r.kind, r.path) for r in self.requests]}")
                self._lock.wait(left)

    def scripted_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.scripted]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}{uuid.uuid4().hex[:12]}"


# -- wire formats --------------------------------------------------------------------------

def _split(words: str, parts: int) -> list[str]:
    if not words:
        return []
    size = max(1, -(-len(words) // max(1, parts)))
    return [words[i:i + size] for i in range(0, len(words), size)]


def _claude_is_side_request(body: dict[str, Any]) -> bool:
    """Claude Code's title (and other housekeeping) requests declare no tools."""
    return not body.get("tools")


def _codex_is_title_request(body: dict[str, Any]) -> bool:
    return "Generate a concise, single-line task title" in json.dumps(body.get("input", ""))[:4000] \
        or "Generate a concise, single-line task title" in str(body.get("instructions", ""))[:200]


def _chat_is_commit_message_request(body: dict[str, Any]) -> bool:
    """aider asks its model for a commit message after each edit."""
    messages = body.get("messages") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    return first.get("role") == "system" and "commit message" in _flatten(first.get("content"))[:2000]


class _Handler(BaseHTTPRequestHandler):
    owner: ModelEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet: pytest shows failures, not access logs
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding") == "zstd" or self.headers.get("Content-Encoding") == "gzip":
            import gzip

            try:
                raw = gzip.decompress(raw)
            except OSError:
                return {}
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, name: str | None, payload: Any) -> None:
        head = f"event: {name}\n" if name else ""
        body = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(f"{head}data: {body}\n\n".encode())

    def _end_stream(self) -> None:
        self._chunk(b"")

    @staticmethod
    def _hold(reply: Reply) -> None:
        if reply.gate is not None:
            reply.gate.wait(300)
        if reply.delay:
            time.sleep(reply.delay)

    # -- routes -----------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self.owner._record(Request("HEAD", self.path, {}, "probe", False))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.owner._record(Request("GET", self.path, {}, "other", False))
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "mock-model", "object": "model"}], "models": []})
        else:
            self._json(404, {"error": {"message": f"no {self.path} here", "type": "not_found"}})

    def do_POST(self) -> None:
        body = self._body()
        path = self.path.split("?", 1)[0]
        try:
            if path.endswith("/v1/messages/count_tokens"):
                self.owner._record(Request("POST", self.path, body, "other", False))
                self._json(200, {"input_tokens": 100})
            elif path.endswith("/v1/messages"):
                self._claude(body)
            elif path.endswith("/responses"):
                self._codex(body)
            elif path.endswith("/chat/completions"):
                self._chat(body)
            elif ":countTokens" in path:
                self.owner._record(Request("POST", self.path, body, "other", False))
                self._json(200, {"totalTokens": 100})
            elif ":streamGenerateContent" in path or ":generateContent" in path:
                self._gemini(body, stream=":streamGenerateContent" in path)
            else:
                self.owner._record(Request("POST", self.path, body, "other", False))
                self._json(404, {"error": {"message": f"no {path} here", "type": "not_found"}})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the CLI gave up on the answer (an interrupted turn)

    # -- Anthropic Messages -----------------------------------------------------------------
    def _claude(self, body: dict[str, Any]) -> None:
        side = _claude_is_side_request(body)
        request = Request("POST", self.path, body, "title" if side else "claude", not side)
        reply = self.owner._answer_for(request, json.dumps({"title": "Scripted task"}))
        model = body.get("model") or "claude-sonnet-4-5"
        if not body.get("stream"):
            content = [{"type": "text", "text": reply.text}] if reply.text else []
            if reply.tool:
                content.append({"type": "tool_use", "id": self.owner.new_id("toolu"), "name": reply.tool.name,
                                "input": reply.tool.arguments or {}})
            self._hold(reply)
            self._json(200, {"id": self.owner.new_id("msg"), "type": "message", "role": "assistant", "model": model,
                             "content": content, "stop_reason": "tool_use" if reply.tool else "end_turn",
                             "stop_sequence": None, "usage": self._claude_usage(reply.usage)})
            return
        self._start_stream()
        self._hold(reply)
        usage = reply.usage
        self._event("message_start", {"type": "message_start", "message": {
            "id": self.owner.new_id("msg"), "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {**self._claude_usage(usage), "output_tokens": 1}}})
        self._event("ping", {"type": "ping"})
        index = 0
        if reply.text:
            self._event("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}})
            for piece in _split(reply.text, reply.chunks):
                self._event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "text_delta", "text": piece}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
            index += 1
        if reply.tool:
            self._event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": self.owner.new_id("toolu"), "name": reply.tool.name, "input": {}}})
            for piece in _split(json.dumps(reply.tool.arguments or {}), 2):
                self._event("content_block_delta", {"type": "content_block_delta", "index": index,
                                                    "delta": {"type": "input_json_delta", "partial_json": piece}})
            self._event("content_block_stop", {"type": "content_block_stop", "index": index})
        self._event("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": "tool_use" if reply.tool else "end_turn",
                                                "stop_sequence": None},
                                      "usage": self._claude_usage(usage)})
        self._event("message_stop", {"type": "message_stop"})
        self._end_stream()
        request.finished = time.monotonic()

    @staticmethod
    def _claude_usage(usage: Usage) -> dict[str, int]:
        return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                "cache_creation_input_tokens": usage.cache_write, "cache_read_input_tokens": usage.cache_read}

    # -- OpenAI Responses (Codex) ------------------------------------------------------------
    def _codex(self, body: dict[str, Any]) -> None:
        title = _codex_is_title_request(body)
        request = Request("POST", self.path, body, "title" if title else "codex", not title)
        reply = self.owner._answer_for(request, "Scripted task")
        response_id = self.owner.new_id("resp")
        model = body.get("model") or "mock-model"
        base = {"id": response_id, "object": "response", "created_at": int(time.time()), "model": model,
                "status": "in_progress", "output": []}
        self._start_stream()
        self._hold(reply)
        seq = itertools.count()

        def send(kind: str, **payload: Any) -> None:
            self._event(kind, {"type": kind, "sequence_number": next(seq), **payload})

        send("response.created", response=base)
        send("response.in_progress", response=base)
        output: list[dict[str, Any]] = []
        if reply.text:
            item_id = self.owner.new_id("msg")
            index = len(output)
            item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
            send("response.output_item.added", output_index=index, item=item)
            send("response.content_part.added", item_id=item_id, output_index=index, content_index=0,
                 part={"type": "output_text", "text": "", "annotations": []})
            for piece in _split(reply.text, reply.chunks):
                send("response.output_text.delta", item_id=item_id, output_index=index, content_index=0, delta=piece)
            part = {"type": "output_text", "text": reply.text, "annotations": []}
            send("response.output_text.done", item_id=item_id, output_index=index, content_index=0,
                 text=reply.text)
            send("response.content_part.done", item_id=item_id, output_index=index, content_index=0, part=part)
            done = {**item, "status": "completed", "content": [part]}
            send("response.output_item.done", output_index=index, item=done)
            output.append(done)
        if reply.tool:
            index = len(output)
            call_id = self.owner.new_id("call")
            if reply.tool.raw_input is not None:
                item = {"id": self.owner.new_id("ctc"), "type": "custom_tool_call", "status": "completed",
                        "call_id": call_id, "name": reply.tool.name, "input": reply.tool.raw_input}
            else:
                item = {"id": self.owner.new_id("fc"), "type": "function_call", "status": "completed",
                        "call_id": call_id, "name": reply.tool.name,
                        "arguments": json.dumps(reply.tool.arguments or {})}
            send("response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
            send("response.output_item.done", output_index=index, item=item)
            output.append(item)
        usage = reply.usage
        send("response.completed", response={**base, "status": "completed", "output": output, "usage": {
            "input_tokens": usage.input_tokens + usage.cache_read,
            "input_tokens_details": {"cached_tokens": usage.cache_read},
            "output_tokens": usage.output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.input_tokens + usage.cache_read + usage.output_tokens}})
        self._end_stream()
        request.finished = time.monotonic()

    # -- OpenAI Chat Completions (aider) ------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        side = _chat_is_commit_message_request(body)
        request = Request("POST", self.path, body, "title" if side else "chat", not side)
        reply = self.owner._answer_for(request, "Scripted change")
        chat_id = self.owner.new_id("chatcmpl")
        model = body.get("model") or "mock"
        usage = {"prompt_tokens": reply.usage.input_tokens, "completion_tokens": reply.usage.output_tokens,
                 "total_tokens": reply.usage.input_tokens + reply.usage.output_tokens}
        if not body.get("stream"):
            self._hold(reply)
            self._json(200, {"id": chat_id, "object": "chat.completion", "created": int(time.time()), "model": model,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": reply.text}}],
                             "usage": usage})
            return
        self._start_stream()
        self._hold(reply)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            self._event(None, {"id": chat_id, "object": "chat.completion.chunk", "created": int(time.time()),
                               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                               **extra})

        chunk({"role": "assistant", "content": ""})
        for piece in _split(reply.text, reply.chunks):
            chunk({"content": piece})
        chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event(None, {"id": chat_id, "object": "chat.completion.chunk", "created": int(time.time()),
                               "model": model, "choices": [], "usage": usage})
        self._event(None, "[DONE]")
        self._end_stream()
        request.finished = time.monotonic()

    # -- the Gemini API (Gemini CLI) ----------------------------------------------------------
    def _gemini(self, body: dict[str, Any], stream: bool) -> None:
        side = _gemini_is_side_request(body)
        request = Request("POST", self.path, body, "title" if side else "gemini", not side)
        # Its side requests (next speaker, model routing) want JSON: one answer suits them all.
        reply = self.owner._answer_for(request, json.dumps(
            {"reasoning": "scripted", "next_speaker": "user", "model_choice": "flash"}))
        usage = {"promptTokenCount": reply.usage.input_tokens, "candidatesTokenCount": reply.usage.output_tokens,
                 "totalTokenCount": reply.usage.input_tokens + reply.usage.output_tokens}

        def candidate(parts: list[dict[str, Any]], finish: bool) -> dict[str, Any]:
            out: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0,
                                                   **({"finishReason": "STOP"} if finish else {})}]}
            if finish:
                out["usageMetadata"] = usage
            return out

        tool_parts = [{"functionCall": {"name": reply.tool.name, "args": reply.tool.arguments or {}}}] \
            if reply.tool else []
        if not stream:
            self._hold(reply)
            self._json(200, candidate(([{"text": reply.text}] if reply.text else []) + tool_parts, True))
            request.finished = time.monotonic()
            return
        self._start_stream()
        self._hold(reply)
        pieces = _split(reply.text, reply.chunks)
        for piece in pieces[:-1] if not tool_parts else pieces:
            self._event(None, candidate([{"text": piece}], False))
        last = tool_parts or [{"text": pieces[-1] if pieces else ""}]
        self._event(None, candidate(last, True))
        self._end_stream()
        request.finished = time.monotonic()


def _gemini_is_side_request(body: dict[str, Any]) -> bool:
    """Gemini CLI's own checks (next speaker, model routing) ask for JSON and declare no tools."""
    config = body.get("generationConfig") or {}
    return not body.get("tools") or config.get("responseMimeType") == "application/json"
