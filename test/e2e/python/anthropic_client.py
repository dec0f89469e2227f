"""Drives an Anthropic Messages endpoint (the mock, or the gateway) with the official Anthropic Python
SDK, as Claude Code and every Anthropic client would: messages.create, messages.stream (text and tool
use), a full tool-call round trip, and how an error status reaches the client.

Usage: python anthropic_client.py BASE_URL MODEL [SCENARIO...]
  scenarios: text (default: all but error), stream, tools, error
Prints one JSON object with what each call returned; the vitest file asserts on it.
"""
import json
import sys

import anthropic

base_url, model = sys.argv[1], sys.argv[2]
scenarios = sys.argv[3:] or ["text", "stream", "tools"]
client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-client-side", max_retries=0, timeout=30)
out = {"sdk_version": anthropic.__version__}

weather = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def usage_of(u):
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_input_tokens": u.cache_read_input_tokens,
        "cache_creation_input_tokens": u.cache_creation_input_tokens,
    }


if "text" in scenarios:
    m = client.messages.create(
        model=model,
        max_tokens=5,
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Say hello"}],
    )
    out["text"] = {"id": m.id, "model": m.model, "text": "".join(b.text for b in m.content if b.type == "text"),
                   "stop_reason": m.stop_reason, "usage": usage_of(m.usage)}

if "stream" in scenarios:
    pieces = []
    with client.messages.stream(model=model, max_tokens=6, messages=[{"role": "user", "content": "Say hello"}]) as stream:
        for text in stream.text_stream:
            pieces.append(text)
        final = stream.get_final_message()
    out["stream"] = {"pieces": len(pieces), "text": "".join(pieces), "final_text": final.content[0].text,
                     "stop_reason": final.stop_reason, "usage": usage_of(final.usage)}

if "tools" in scenarios:
    first = client.messages.create(
        model=model,
        max_tokens=50,
        tools=[weather],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    call = next(b for b in first.content if b.type == "tool_use")
    with client.messages.stream(
        model=model,
        max_tokens=50,
        tools=[weather],
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "And in Oslo?"}],
    ) as stream:
        streamed = stream.get_final_message()
    streamed_call = next(b for b in streamed.content if b.type == "tool_use")
    second = client.messages.create(
        model=model,
        max_tokens=8,
        tools=[weather],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18°C, sunny"}]},
        ],
    )
    out["tools"] = {
        "stop_reason": first.stop_reason, "name": call.name, "id": call.id, "input": call.input,
        "streamed": {"stop_reason": streamed.stop_reason, "name": streamed_call.name, "input": streamed_call.input},
        "after_result": {"stop_reason": second.stop_reason, "text": second.content[0].text if second.content else None},
    }

if "error" in scenarios:
    try:
        client.messages.create(model=model, max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
        out["error"] = None
    except anthropic.APIStatusError as e:
        out["error"] = {"status": e.status_code, "class": type(e).__name__, "type": (e.body or {}).get("error", {}).get("type"),
                        "message": (e.body or {}).get("error", {}).get("message")}

print(json.dumps(out))
