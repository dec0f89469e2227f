"""The official SDKs read every translated answer in the golden files (test/golden/translation):
each expected response body, error body and streamed event is validated by the SDK's own pydantic
models (openai, anthropic from .venv), and every expected stream is decoded by the SDK's SSE decoder
and accumulated by its stream helper into a final message, which must carry what the stream said.

Usage: .venv/bin/python test/golden/translation/check_sdk.py   (prints one line per check; exit 1 on
any failure). Run by test/unit/translation-sdk.test.ts.
"""
import json
import pathlib
import sys

import anthropic
import openai
from anthropic._streaming import SSEDecoder as AnthropicSSEDecoder
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import ErrorResponse, Message, RawMessageStreamEvent
from openai._streaming import SSEDecoder as OpenAISSEDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, TypeAdapter

HERE = pathlib.Path(__file__).parent
failures = []
checks = 0


def check(name, fn):
    global checks
    checks += 1
    try:
        fn()
        print(f"ok   {name}")
    except Exception as e:  # noqa: BLE001 - every failure is reported with its case
        failures.append(name)
        print(f"FAIL {name}: {type(e).__name__}: {e}")


class OpenAIError(BaseModel):
    """What openai's client reads from an error body (openai._base_client: body["error"])."""

    class Inner(BaseModel):
        message: str
        type: str
        param: object = None
        code: object = None

    error: Inner


def sse_events(decoder_class, text):
    decoder = decoder_class()
    # the SDK feeds the decoder the raw bytes as they come; one chunk per byte is the harshest split
    return list(decoder.iter_bytes(iter([bytes([b]) for b in text.encode("utf-8")])))


# ---- OpenAI client ← Anthropic backend: chat.completion, errors, chat.completion.chunk streams
def openai_response(spec):
    body = spec["expected"]
    if spec["status"] >= 400:
        OpenAIError.model_validate(body)
        return
    completion = ChatCompletion.model_validate(body)
    for call in completion.choices[0].message.tool_calls or []:
        json.loads(call.function.arguments)  # arguments must be a JSON string of the input object


def openai_stream(out_text):
    events = sse_events(OpenAISSEDecoder, out_text)
    state = ChatCompletionStreamState()
    done = False
    for sse in events:
        if sse.data.startswith("[DONE]"):
            done = True
            continue
        data = json.loads(sse.data)
        if "error" in data:
            OpenAIError.model_validate(data)
            assert not done
            return None
        chunk = ChatCompletionChunk.model_validate(data)
        state.handle_chunk(chunk)
    if not done:
        return None
    final = state.get_final_completion()
    for call in final.choices[0].message.tool_calls or []:
        json.loads(call.function.arguments)
    return final


# ---- Anthropic client ← OpenAI backend: message, errors, message stream events
def anthropic_response(spec):
    body = spec["expected"]
    if spec["status"] >= 400:
        ErrorResponse.model_validate(body)
        return
    Message.model_validate(body)


event_adapter = TypeAdapter(RawMessageStreamEvent)


def anthropic_stream(out_text):
    snapshot = None
    json_bufs = {}
    stopped = False
    for sse in sse_events(AnthropicSSEDecoder, out_text):
        data = json.loads(sse.data)
        assert data["type"] == sse.event, f"event name {sse.event} but type {data['type']}"
        if sse.event == "error":
            ErrorResponse.model_validate(data)
            return None
        event = event_adapter.validate_python(data)
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
        stopped = stopped or sse.event == "message_stop"
    if not stopped:
        return None
    return Message.model_validate(snapshot.to_dict())


def main():
    for pair, read_response, read_stream in (
        ("openai_anthropic", openai_response, openai_stream),
        ("anthropic_openai", anthropic_response, anthropic_stream),
    ):
        for f in sorted((HERE / pair / "response").glob("*.json")):
            spec = json.loads(f.read_text())
            check(f"{pair} response {f.stem}", lambda spec=spec: read_response(spec))
        for f in sorted((HERE / pair / "stream").glob("*.json")):
            out = f.parent / (f.stem + ".out.sse")

            def run(out=out, stem=f.stem):
                final = read_stream(out.read_text())
                complete = stem not in ("truncated", "crlf-truncated", "error-midstream")
                assert (final is not None) == complete, f"stream complete: {final is not None}, expected {complete}"
                if final is not None:
                    print(f"     final: {final.model_dump_json(exclude_none=True)[:300]}")

            check(f"{pair} stream {f.stem}", run)
    print(f"{checks - len(failures)} of {checks} checks passed (openai {openai.__version__}, anthropic {anthropic.__version__})")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
