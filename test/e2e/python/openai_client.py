"""Drives the gateway with the official OpenAI Python SDK, as an application would.

Usage: python openai_client.py BASE_URL EMBED_MODEL
Prints one JSON object with what each call returned; the vitest file asserts on it.
"""
import json
import sys

import openai
from openai import OpenAI

base_url, embed_model = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key="sk-client-side-unused", max_retries=0, timeout=30)
out = {"sdk_version": openai.__version__}

chat = client.chat.completions.create(
    model="auto", messages=[{"role": "user", "content": "Say hello"}]
)
out["chat"] = {"model": chat.model, "content": chat.choices[0].message.content, "finish_reason": chat.choices[0].finish_reason}

stream = client.chat.completions.create(
    model="fast",
    messages=[{"role": "user", "content": "Say hello"}],
    stream=True,
    stream_options={"include_usage": True},
    max_tokens=6,
)
pieces, models, usage = [], set(), None
for chunk in stream:
    models.add(chunk.model)
    if chunk.choices and chunk.choices[0].delta.content:
        pieces.append(chunk.choices[0].delta.content)
    if chunk.usage is not None:
        usage = chunk.usage.completion_tokens
out["stream"] = {"text": "".join(pieces), "chunks": len(pieces), "models": sorted(models), "completion_tokens": usage}

tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
called = client.chat.completions.create(
    model="cheap", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=tools, tool_choice="required"
)
call = called.choices[0].message.tool_calls[0]
out["tools"] = {"model": called.model, "name": call.function.name, "arguments": call.function.arguments, "finish_reason": called.choices[0].finish_reason}

emb = client.embeddings.create(model=embed_model, input=["hello", "world"])
out["embeddings"] = {"count": len(emb.data), "dims": len(emb.data[0].embedding), "model": emb.model}

try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    out["unknown_model"] = {"raised": None}
except openai.NotFoundError as err:
    out["unknown_model"] = {"raised": "NotFoundError", "status": err.status_code, "code": err.code}

try:
    client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], max_tokens=10**6)
    out["no_candidate"] = {"raised": None}
except openai.BadRequestError as err:
    out["no_candidate"] = {"raised": "BadRequestError", "status": err.status_code, "code": err.code}

if len(sys.argv) > 3 and sys.argv[3] == "--models":
    out["models"] = sorted(m.id for m in client.models.list())

print(json.dumps(out))
