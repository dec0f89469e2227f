// Anthropic Messages client → OpenAI chat completions backend (OpenAI, Azure OpenAI and every
// OpenAI-compatible provider): the request, the JSON response, the provider's errors and the SSE
// stream. References: docs.claude.com/en/api/messages and /en/api/messages-streaming,
// platform.openai.com/docs/api-reference/chat (golden files and their review:
// test/golden/translation/anthropic_openai/).
//
// Request fields (docs/translation.md lists them):
//   carried over: system, messages (text, image, PDF document, tool_use, tool_result blocks),
//     max_tokens → max_completion_tokens (the model's default when absent), temperature, top_p,
//     stop_sequences → stop, stream (with stream_options.include_usage, so the final usage can be
//     reported), metadata.user_id → user, tools (custom tools), tool_choice,
//     tool_choice.disable_parallel_tool_use → parallel_tool_calls: false;
//   refused with 400: server tools (web search, code execution…: only Anthropic runs them),
//     mcp_servers, container, output_config / output_format (structured output), images inside a
//     tool result, documents other than base64 PDF or plain text;
//   dropped: thinking (and thinking blocks of earlier turns), cache_control, top_k, service_tier,
//     inference_geo, context_management, diagnostics, a tool result's is_error, citations, and
//     members no version of the API has.
import { Kind, Tape } from "./tape";
import { ByteWriter, utf8, COMMA, CLOSE_BRACE, CLOSE_BRACKET, OPEN_BRACKET, QUOTE } from "./writer";
import { TranslationError, anthropicErrorType, writeAnthropicErrorRaw } from "./errors";
import { DONE, SSE_END, listField, Target, documentTape, eventHead, eventTape, nameIndex, plainValue, valueSize, valueStart } from "./common";
import { SseSplitter } from "./sse";

// ---- names -----------------------------------------------------------------------------------------

const enum Top {
  Messages, System, MaxTokens, Temperature, TopP, StopSequences, Stream, Metadata, Tools, ToolChoice,
  McpServers, Container, OutputConfig, OutputFormat,
}
const TOP_NAMES: StaticArray<ArrayBuffer> = [
  utf8("messages"), utf8("system"), utf8("max_tokens"), utf8("temperature"), utf8("top_p"), utf8("stop_sequences"),
  utf8("stream"), utf8("metadata"), utf8("tools"), utf8("tool_choice"), utf8("mcp_servers"), utf8("container"),
  utf8("output_config"), utf8("output_format"),
];
const TOP_COUNT = 14;

const ROLE = utf8("role");
const USER = utf8("user");
const ASSISTANT = utf8("assistant");
const CONTENT = utf8("content");
const TYPE = utf8("type");
const TEXT = utf8("text");
const IMAGE = utf8("image");
const DOCUMENT = utf8("document");
const SOURCE = utf8("source");
const BASE64 = utf8("base64");
const URL = utf8("url");
const MEDIA_TYPE = utf8("media_type");
const DATA = utf8("data");
const TOOL_USE = utf8("tool_use");
const TOOL_RESULT = utf8("tool_result");
const TOOL_USE_ID = utf8("tool_use_id");
const THINKING = utf8("thinking");
const REDACTED_THINKING = utf8("redacted_thinking");
const ID = utf8("id");
const NAME = utf8("name");
const INPUT = utf8("input");
const DESCRIPTION = utf8("description");
const INPUT_SCHEMA = utf8("input_schema");
const CUSTOM = utf8("custom");
const USER_ID = utf8("user_id");
const AUTO = utf8("auto");
const ANY = utf8("any");
const TOOL = utf8("tool");
const NONE = utf8("none");
const DISABLE_PARALLEL = utf8("disable_parallel_tool_use");
const APPLICATION_PDF = utf8("application/pdf");

// ---- what is written ---------------------------------------------------------------------------------

const REQUEST_MODEL = utf8("{\"model\":");
const MESSAGES_START = utf8(",\"messages\":[");
const SYSTEM_MESSAGE = utf8("{\"role\":\"system\",\"content\":");
const USER_MESSAGE = utf8("{\"role\":\"user\",\"content\":");
const ASSISTANT_MESSAGE = utf8("{\"role\":\"assistant\",\"content\":");
const TOOL_MESSAGE = utf8("{\"role\":\"tool\",\"tool_call_id\":");
const CONTENT_MEMBER = utf8(",\"content\":");
const TEXT_PART_START = utf8("{\"type\":\"text\",\"text\":\"");
const PART_STRING_END = utf8("\"}");
const IMAGE_PART_START = utf8("{\"type\":\"image_url\",\"image_url\":{\"url\":\"");
const IMAGE_PART_END = utf8("\"}}");
const FILE_PART_START = utf8("{\"type\":\"file\",\"file\":{\"filename\":\"document.pdf\",\"file_data\":\"data:");
const BASE64_MARK = utf8(";base64,");
const DATA_URL_START = utf8("data:");
const NULL = utf8("null");
const EMPTY_STRING = utf8("\"\"");
const TOOL_CALLS_START = utf8(",\"tool_calls\":[");
const TOOL_CALL_START = utf8("{\"id\":");
const FUNCTION_START = utf8(",\"type\":\"function\",\"function\":{\"name\":");
const ARGUMENTS_START = utf8(",\"arguments\":\"");
const TOOL_CALL_END = utf8("\"}}");
const MAX_COMPLETION_TOKENS = utf8(",\"max_completion_tokens\":");
const TEMPERATURE_MEMBER = utf8(",\"temperature\":");
const TOP_P_MEMBER = utf8(",\"top_p\":");
const STOP_MEMBER = utf8(",\"stop\":[");
const STREAM_MEMBERS = utf8(",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
const USER_MEMBER = utf8(",\"user\":");
const TOOLS_START = utf8(",\"tools\":[");
const FUNCTION_TOOL_START = utf8("{\"type\":\"function\",\"function\":{\"name\":");
const DESCRIPTION_MEMBER = utf8(",\"description\":");
const PARAMETERS_MEMBER = utf8(",\"parameters\":");
const EMPTY_PARAMETERS = utf8("{\"type\":\"object\",\"properties\":{}}");
const TOOL_END = utf8("}}");
const TOOL_CHOICE_AUTO = utf8(",\"tool_choice\":\"auto\"");
const TOOL_CHOICE_REQUIRED = utf8(",\"tool_choice\":\"required\"");
const TOOL_CHOICE_NONE = utf8(",\"tool_choice\":\"none\"");
const TOOL_CHOICE_FUNCTION = utf8(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":");
const NO_PARALLEL = utf8(",\"parallel_tool_calls\":false");

function refuse(err: TranslationError, target: Target, field: string, why: string): bool {
  return err.refuse(field, why, target.name, "is served through an OpenAI-compatible API, which cannot honour it");
}

@inline function invalid(err: TranslationError, field: string, why: string): bool { return err.invalid(field, why); }

// Where a refused field is (built only when a request is refused).
function field(index: i32, rest: string): string { return listField("messages", index, rest); }
function blockField(index: i32, blockIndex: i32, rest: string): string { return field(index, ".content[" + blockIndex.toString() + "]" + rest); }

const topValues = new StaticArray<i32>(TOP_COUNT);
const pendingParts = new ByteWriter(); // a user turn's content parts, written after its tool results
const MAX_TOOL_CALLS: i32 = 128;

export class AnthropicToOpenAI {
  stream: bool = false;
  // ---- stream state
  private started: bool = false;     // message_start written
  private finished: bool = false;    // message_stop written (or an error event)
  private finishSeen: bool = false;  // a finish_reason came
  private stopReason: ArrayBuffer = END_TURN;
  private blockOpen: bool = false;
  private blockIsText: bool = false;
  private blockCount: i32 = 0;       // Anthropic content blocks started
  private openTool: i32 = -1;        // OpenAI index of the tool call in the open block
  // Anthropic block index of each OpenAI tool call index (-1: not started)
  private toolBlocks: StaticArray<i32> = new StaticArray<i32>(MAX_TOOL_CALLS);
  private promptTokens: i64 = 0;
  private completionTokens: i64 = 0;
  private cachedTokens: i64 = 0;

  reset(): void {
    this.stream = false;
    this.started = false;
    this.finished = false;
    this.finishSeen = false;
    this.stopReason = END_TURN;
    this.blockOpen = false;
    this.blockIsText = false;
    this.blockCount = 0;
    this.openTool = -1;
    for (let i = 0; i < MAX_TOOL_CALLS; i++) unchecked(this.toolBlocks[i] = -1);
    this.promptTokens = 0;
    this.completionTokens = 0;
    this.cachedTokens = 0;
  }

  // ---- request ------------------------------------------------------------------------------------

  request(p: usize, n: usize, target: Target, out: ByteWriter, err: TranslationError): bool {
    const t = documentTape;
    if (!t.parse(p, n) || !t.isObject(0)) return invalid(err, "body", "is not a JSON object");
    for (let i = 0; i < TOP_COUNT; i++) unchecked(topValues[i] = -1);
    for (let k = t.firstMember(0); k >= 0; k = t.nextMember(0, k)) {
      const f = nameIndex(t, k, TOP_NAMES);
      if (f >= 0) unchecked(topValues[f] = k + 1);
    }
    if (!t.isAbsent(unchecked(topValues[Top.McpServers]))) return refuse(err, target, "mcp_servers", "asks Anthropic to call MCP servers");
    if (!t.isAbsent(unchecked(topValues[Top.Container]))) return refuse(err, target, "container", "names an Anthropic code execution container");
    const outputConfig = unchecked(topValues[Top.OutputConfig]);
    if (!t.isAbsent(unchecked(topValues[Top.OutputFormat])) || !t.isAbsent(t.member(outputConfig, FORMAT))) {
      return refuse(err, target, "output_config.format", "asks for structured output");
    }
    const messages = unchecked(topValues[Top.Messages]);
    if (!t.isArray(messages)) return invalid(err, "messages", "must be an array of messages");

    out.reset();
    out.text(REQUEST_MODEL);
    out.text(target.literal);
    out.text(MESSAGES_START);
    let count = this.writeSystem(t, out, err);
    if (count < 0) return false;

    let index = 0;
    for (let m = t.firstItem(messages); m >= 0; m = t.nextItem(messages, m), index++) {
      if (!t.isObject(m)) return invalid(err, field(index, ""), "must be an object");
      const role = t.member(m, ROLE);
      const content = t.member(m, CONTENT);
      if (t.equals(role, USER)) {
        const written = writeUser(t, content, index, target, out, count, err);
        if (written < 0) return false;
        count += written;
      } else if (t.equals(role, ASSISTANT)) {
        const written = writeAssistant(t, content, index, target, out, count, err);
        if (written < 0) return false;
        count += written;
      } else {
        return invalid(err, field(index, ".role"), "must be \"user\" or \"assistant\"");
      }
    }
    out.byte(CLOSE_BRACKET);

    const maxTokens = unchecked(topValues[Top.MaxTokens]);
    let budget = target.defaultMaxTokens;
    if (!t.isAbsent(maxTokens)) {
      budget = t.integer(maxTokens);
      if (budget < 0) return invalid(err, "max_tokens", "must be a whole number");
    }
    out.text(MAX_COMPLETION_TOKENS);
    out.uint(<u64>budget);

    const temperature = unchecked(topValues[Top.Temperature]);
    if (t.kind(temperature) == Kind.Number) { out.text(TEMPERATURE_MEMBER); out.bytes(t.start(temperature), t.size(temperature)); }
    const topP = unchecked(topValues[Top.TopP]);
    if (t.kind(topP) == Kind.Number) { out.text(TOP_P_MEMBER); out.bytes(t.start(topP), t.size(topP)); }
    const stop = unchecked(topValues[Top.StopSequences]);
    if (t.isArray(stop) && t.firstItem(stop) >= 0) {
      out.text(STOP_MEMBER);
      let i = 0;
      for (let s = t.firstItem(stop); s >= 0; s = t.nextItem(stop, s)) {
        if (!t.isString(s)) return invalid(err, "stop_sequences", "must be an array of strings");
        if (i++ > 0) out.byte(COMMA);
        out.quoted(t.start(s), t.size(s));
      }
      out.byte(CLOSE_BRACKET);
    } else if (!t.isAbsent(stop) && !t.isArray(stop)) {
      return invalid(err, "stop_sequences", "must be an array of strings");
    }
    this.stream = t.kind(unchecked(topValues[Top.Stream])) == Kind.True;
    if (this.stream) out.text(STREAM_MEMBERS);
    const user = t.member(unchecked(topValues[Top.Metadata]), USER_ID);
    if (t.isString(user) && t.size(user) > 0) { out.text(USER_MEMBER); out.quoted(t.start(user), t.size(user)); }
    if (!writeTools(t, target, out, err)) return false;
    out.byte(CLOSE_BRACE);
    return true;
  }

  // `system` (a string or text blocks) as the first message. Returns the messages written (0 or 1),
  // or -1 (err set).
  private writeSystem(t: Tape, out: ByteWriter, err: TranslationError): i32 {
    const system = unchecked(topValues[Top.System]);
    if (t.isAbsent(system)) return 0;
    if (t.isString(system)) {
      if (t.size(system) == 0) return 0;
      out.text(SYSTEM_MESSAGE);
      out.quoted(t.start(system), t.size(system));
      out.byte(CLOSE_BRACE);
      return 1;
    }
    if (!t.isArray(system)) { invalid(err, "system", "must be a string or an array of text blocks"); return -1; }
    let texts = 0;
    for (let b = t.firstItem(system); b >= 0; b = t.nextItem(system, b)) {
      if (!t.equals(t.member(b, TYPE), TEXT) || !t.isString(t.member(b, TEXT))) { invalid(err, "system", "must hold text blocks only"); return -1; }
      if (t.size(t.member(b, TEXT)) > 0) texts++;
    }
    if (texts == 0) return 0;
    out.text(SYSTEM_MESSAGE);
    writeTextContent(t, system, texts, out);
    out.byte(CLOSE_BRACE);
    return 1;
  }

  // ---- response -----------------------------------------------------------------------------------

  // The chat.completion [p, p + n) as an Anthropic message.
  response(p: usize, n: usize, out: ByteWriter, err: TranslationError): bool {
    const t = documentTape;
    if (!t.parse(p, n) || !t.isObject(0)) return err.set(502, "invalid_provider_response", "the provider's answer is not a JSON object");
    const choices = t.member(0, CHOICES);
    const choice = t.isArray(choices) ? t.firstItem(choices) : -1;
    const message = t.member(choice, MESSAGE);
    out.reset();
    out.text(MESSAGE_ID);
    writeStringOr(out, t, t.member(0, ID));
    out.text(MESSAGE_HEAD);
    writeStringOr(out, t, t.member(0, MODEL));
    out.text(CONTENT_START);
    let blocks = 0;
    const content = t.member(message, CONTENT);
    if (t.isString(content) && t.size(content) > 0) {
      out.text(TEXT_BLOCK_START);
      out.bytes(t.start(content), t.size(content));
      out.text(BLOCK_STRING_END);
      blocks++;
    } else if (t.isArray(content)) {
      for (let part = t.firstItem(content); part >= 0; part = t.nextItem(content, part)) {
        const text = t.member(part, TEXT);
        if (!t.isString(text) || t.size(text) == 0) continue;
        if (blocks++ > 0) out.byte(COMMA);
        out.text(TEXT_BLOCK_START);
        out.bytes(t.start(text), t.size(text));
        out.text(BLOCK_STRING_END);
      }
    }
    const refusal = t.member(message, REFUSAL);
    if (t.isString(refusal) && t.size(refusal) > 0) {
      if (blocks++ > 0) out.byte(COMMA);
      out.text(TEXT_BLOCK_START);
      out.bytes(t.start(refusal), t.size(refusal));
      out.text(BLOCK_STRING_END);
    }
    const calls = t.member(message, TOOL_CALLS);
    if (t.isArray(calls)) {
      let callIndex = 0;
      for (let call = t.firstItem(calls); call >= 0; call = t.nextItem(calls, call), callIndex++) {
        const fn = t.member(call, FUNCTION);
        if (blocks++ > 0) out.byte(COMMA);
        out.text(TOOL_USE_BLOCK_START);
        writeStringOr(out, t, t.member(call, ID));
        out.text(TOOL_USE_NAME);
        writeStringOr(out, t, t.member(fn, NAME));
        out.text(TOOL_USE_INPUT);
        if (!writeInput(t, t.member(fn, ARGUMENTS), out)) {
          return err.set(502, "invalid_provider_response", "the provider's tool call " + callIndex.toString() + " has arguments that are not a JSON object");
        }
        out.text(DIRECT_CALLER);
      }
    }
    out.text(STOP_REASON_START);
    const refused = t.isString(refusal) && t.size(refusal) > 0;
    out.text(refused ? REFUSAL_REASON : stopReasonOf(t, t.member(choice, FINISH_REASON)));
    out.text(USAGE_START);
    const usage = t.member(0, USAGE);
    const prompt = max<i64>(t.integer(t.member(usage, PROMPT_TOKENS)), 0);
    const completion = max<i64>(t.integer(t.member(usage, COMPLETION_TOKENS)), 0);
    const cached = min<i64>(max<i64>(t.integer(t.member(t.member(usage, PROMPT_DETAILS), CACHED_TOKENS)), 0), prompt);
    writeAnthropicUsage(out, prompt - cached, completion, cached, true);
    out.byte(CLOSE_BRACE);
    return true;
  }

  // A provider's error answer (OpenAI's shape, or anything) in Anthropic's shape, its status kept.
  error(status: i32, p: usize, n: usize, out: ByteWriter): void {
    out.reset();
    const type = anthropicErrorType(status);
    const t = documentTape;
    if (t.parse(p, n) && t.isObject(0)) {
      const error = t.member(0, ERROR);
      let message = t.member(error, MESSAGE);
      if (!t.isString(message) && t.isString(error)) message = error; // {"error": "text"}
      if (!t.isString(message)) message = t.member(0, MESSAGE);
      if (t.isString(message)) {
        writeAnthropicErrorRaw(out, type, t.start(message), t.size(message));
        return;
      }
    }
    messageScratch.reset();
    messageScratch.escapedText(p, min<usize>(n, MAX_FOREIGN_MESSAGE));
    writeAnthropicErrorRaw(out, type, messageScratch.data, messageScratch.length);
  }

  // ---- stream -------------------------------------------------------------------------------------

  streamEvents(events: SseSplitter, out: ByteWriter): void {
    while (events.next()) this.event(events, out);
  }

  // The stream ended. An event left without its blank line is read; a stream that said how it
  // finished but sent no [DONE] (some providers do not) is closed as Anthropic closes one; a stream
  // cut before its finish reason is left cut, so the client sees it never completed.
  streamEnd(events: SseSplitter, out: ByteWriter): void {
    if (events.finish()) this.event(events, out);
    if (!this.finished && this.finishSeen) this.close(out);
  }

  private event(events: SseSplitter, out: ByteWriter): void {
    if (this.finished || !events.hasData) return;
    if (events.dataIs(DONE)) { if (this.started) this.close(out); return; }
    const t = eventTape;
    if (!t.parse(events.dataStart, events.dataEnd - events.dataStart) || !t.isObject(0)) return;
    // one pass per object: a chunk comes every few milliseconds
    const chunk = picked;
    t.pick(0, CHUNK_MEMBERS, chunk);
    const error = unchecked(chunk[ChunkMember.Error]);
    if (!t.isAbsent(error)) { this.streamError(t, error, out); return; }
    if (!this.started) this.start(t, unchecked(chunk[ChunkMember.Id]), unchecked(chunk[ChunkMember.Model]), out);
    const usage = unchecked(chunk[ChunkMember.Usage]);
    if (t.isObject(usage)) {
      this.promptTokens = max<i64>(t.integer(t.member(usage, PROMPT_TOKENS)), 0);
      this.completionTokens = max<i64>(t.integer(t.member(usage, COMPLETION_TOKENS)), 0);
      this.cachedTokens = min<i64>(max<i64>(t.integer(t.member(t.member(usage, PROMPT_DETAILS), CACHED_TOKENS)), 0), this.promptTokens);
    }
    const choices = unchecked(chunk[ChunkMember.Choices]);
    const choice = t.isArray(choices) ? t.firstItem(choices) : -1;
    if (choice < 0) return;
    t.pick(choice, CHOICE_MEMBERS, chunk);
    const finish = unchecked(chunk[ChoiceMember.FinishReason]);
    t.pick(unchecked(chunk[ChoiceMember.Delta]), DELTA_MEMBERS, chunk);
    const content = unchecked(chunk[DeltaMember.Content]);
    if (t.isString(content) && t.size(content) > 0) this.text(out, t.start(content), t.size(content));
    const refusal = unchecked(chunk[DeltaMember.Refusal]);
    if (t.isString(refusal) && t.size(refusal) > 0) {
      this.text(out, t.start(refusal), t.size(refusal));
      this.stopReason = REFUSAL_REASON;
    }
    const calls = unchecked(chunk[DeltaMember.ToolCalls]);
    if (t.isArray(calls)) {
      for (let call = t.firstItem(calls); call >= 0; call = t.nextItem(calls, call)) this.toolCall(t, call, out);
    }
    if (t.isString(finish)) {
      this.finishSeen = true;
      if (this.stopReason != REFUSAL_REASON) this.stopReason = stopReasonOf(t, finish);
      this.closeBlock(out);
    }
  }

  private start(t: Tape, id: i32, model: i32, out: ByteWriter): void {
    out.text(MESSAGE_START_HEAD);
    writeStringOr(out, t, id);
    out.text(MESSAGE_HEAD);
    writeStringOr(out, t, model);
    out.text(MESSAGE_START_TAIL);
    this.started = true;
  }

  private text(out: ByteWriter, p: usize, n: usize): void {
    if (!this.blockOpen || !this.blockIsText) {
      this.closeBlock(out);
      out.text(TEXT_BLOCK_EVENT_START);
      out.uint(<u64>this.blockCount);
      out.text(TEXT_BLOCK_EVENT_END);
      this.blockOpen = true;
      this.blockIsText = true;
      this.blockCount++;
    }
    out.text(TEXT_DELTA_START);
    out.uint(<u64>(this.blockCount - 1));
    out.text(TEXT_DELTA_TEXT);
    out.bytes(p, n);
    out.text(DELTA_END);
  }

  private toolCall(t: Tape, call: i32, out: ByteWriter): void {
    let index = t.integer(t.member(call, INDEX));
    if (index < 0) index = this.openTool >= 0 ? this.openTool : 0;
    if (index >= MAX_TOOL_CALLS) return;
    const i = <i32>index;
    const fn = t.member(call, FUNCTION);
    if (unchecked(this.toolBlocks[i]) < 0) {
      this.closeBlock(out);
      out.text(TOOL_BLOCK_EVENT_START);
      out.uint(<u64>this.blockCount);
      out.text(TOOL_BLOCK_EVENT_ID);
      const id = t.member(call, ID);
      if (t.isString(id) && t.size(id) > 0) out.quoted(t.start(id), t.size(id));
      else { out.text(GENERATED_ID_START); out.uint(<u64>this.blockCount); out.byte(QUOTE); }
      out.text(TOOL_BLOCK_EVENT_NAME);
      writeStringOr(out, t, t.member(fn, NAME));
      out.text(TOOL_BLOCK_EVENT_END);
      unchecked(this.toolBlocks[i] = this.blockCount);
      this.blockOpen = true;
      this.blockIsText = false;
      this.openTool = i;
      this.blockCount++;
    }
    const args = t.member(fn, ARGUMENTS);
    if (!t.isString(args) || t.size(args) == 0) return;
    out.text(JSON_DELTA_START);
    out.uint(<u64>unchecked(this.toolBlocks[i]));
    out.text(JSON_DELTA_PARTIAL);
    out.bytes(t.start(args), t.size(args));
    out.text(DELTA_END);
  }

  private closeBlock(out: ByteWriter): void {
    if (!this.blockOpen) return;
    out.text(BLOCK_STOP_START);
    out.uint(<u64>(this.blockCount - 1));
    out.text(BLOCK_STOP_END);
    this.blockOpen = false;
    this.openTool = -1;
  }

  private close(out: ByteWriter): void {
    this.closeBlock(out);
    out.text(MESSAGE_DELTA_START);
    out.text(this.stopReason);
    out.text(MESSAGE_DELTA_USAGE);
    writeAnthropicUsage(out, this.promptTokens - this.cachedTokens, this.completionTokens, this.cachedTokens, false);
    out.text(MESSAGE_DELTA_END);
    out.text(MESSAGE_STOP_EVENT);
    this.finished = true;
  }

  private streamError(t: Tape, error: i32, out: ByteWriter): void {
    let message = t.member(error, MESSAGE);
    if (!t.isString(message) && t.isString(error)) message = error;
    out.text(ERROR_EVENT);
    const type = API_ERROR;
    if (t.isString(message)) writeAnthropicErrorRaw(out, type, t.start(message), t.size(message));
    else writeAnthropicErrorRaw(out, type, changetype<usize>(EMPTY), 0);
    out.text(SSE_END);
    this.finished = true;
  }

  get isFinished(): bool { return this.finished; }
}

const FORMAT = utf8("format");

// Members of a streamed chunk, its choice and the choice's delta, read in one pass each.
const enum ChunkMember { Error, Usage, Choices, Id, Model }
const CHUNK_MEMBERS: StaticArray<ArrayBuffer> = [utf8("error"), utf8("usage"), utf8("choices"), utf8("id"), utf8("model")];
const enum ChoiceMember { Delta, FinishReason }
const CHOICE_MEMBERS: StaticArray<ArrayBuffer> = [utf8("delta"), utf8("finish_reason")];
const enum DeltaMember { Content, Refusal, ToolCalls }
const DELTA_MEMBERS: StaticArray<ArrayBuffer> = [utf8("content"), utf8("refusal"), utf8("tool_calls")];
const picked = new StaticArray<i32>(5);
const messageScratch = new ByteWriter();
const MAX_FOREIGN_MESSAGE: usize = 2048;

// ---- request helpers -----------------------------------------------------------------------------

// The non-empty text blocks among `blocks` (`texts` of them) as chat content: a string for one,
// text parts for several.
function writeTextContent(t: Tape, blocks: i32, texts: i32, out: ByteWriter): void {
  if (texts == 1) {
    for (let b = t.firstItem(blocks); b >= 0; b = t.nextItem(blocks, b)) {
      const text = t.member(b, TEXT);
      if (t.isString(text) && t.size(text) > 0 && t.equals(t.member(b, TYPE), TEXT)) { out.quoted(t.start(text), t.size(text)); return; }
    }
  }
  out.byte(OPEN_BRACKET);
  let i = 0;
  for (let b = t.firstItem(blocks); b >= 0; b = t.nextItem(blocks, b)) {
    const text = t.member(b, TEXT);
    if (!t.isString(text) || t.size(text) == 0 || !t.equals(t.member(b, TYPE), TEXT)) continue;
    if (i++ > 0) out.byte(COMMA);
    out.text(TEXT_PART_START);
    out.bytes(t.start(text), t.size(text));
    out.text(PART_STRING_END);
  }
  out.byte(CLOSE_BRACKET);
}

// A turn whose content is a string: one message (`head` opens it), after the `count` written.
function writeStringMessage(t: Tape, content: i32, head: ArrayBuffer, out: ByteWriter, count: i32): i32 {
  if (count > 0) out.byte(COMMA);
  out.text(head);
  out.quoted(t.start(content), t.size(content));
  out.byte(CLOSE_BRACE);
  return 1;
}

// A user turn: its tool results first (each a tool message, as chat completions wants them right
// after the assistant's tool calls), then its other content as one user message. Returns the number
// of messages written, or -1 (err set).
function writeUser(t: Tape, content: i32, index: i32, target: Target, out: ByteWriter, count: i32, err: TranslationError): i32 {
  if (t.isString(content)) return writeStringMessage(t, content, USER_MESSAGE, out, count);
  if (!t.isArray(content)) { invalid(err, field(index, ".content"), "must be a string or an array of content blocks"); return -1; }
  let written = 0;
  const parts = pendingParts;
  parts.reset();
  let partCount = 0;
  let textCount = 0;
  let blockIndex = 0;
  for (let b = t.firstItem(content); b >= 0; b = t.nextItem(content, b), blockIndex++) {
    const type = t.member(b, TYPE);
    if (t.equals(type, TEXT)) {
      const text = t.member(b, TEXT);
      if (!t.isString(text)) { invalid(err, blockField(index, blockIndex, ".text"), "must be a string"); return -1; }
      if (t.size(text) == 0) continue;
      if (partCount++ > 0) parts.byte(COMMA);
      parts.text(TEXT_PART_START);
      parts.bytes(t.start(text), t.size(text));
      parts.text(PART_STRING_END);
      textCount++;
    } else if (t.equals(type, IMAGE)) {
      if (partCount++ > 0) parts.byte(COMMA);
      if (!writeImagePart(t, b, index, blockIndex, parts, err)) return -1;
    } else if (t.equals(type, DOCUMENT)) {
      if (partCount++ > 0) parts.byte(COMMA);
      const wrote = writeDocumentPart(t, b, index, blockIndex, target, parts, err);
      if (wrote < 0) return -1;
      textCount += wrote;
    } else if (t.equals(type, TOOL_RESULT)) {
      if (count + written > 0) out.byte(COMMA);
      if (!writeToolMessage(t, b, index, blockIndex, target, out, err)) return -1;
      written++;
    } else if (t.equals(type, THINKING) || t.equals(type, REDACTED_THINKING)) {
      continue;
    } else {
      refuse(err, target, blockField(index, blockIndex, ".type"), "is a content block chat completions has no place for");
      return -1;
    }
  }
  if (partCount == 0) return written;
  if (count + written > 0) out.byte(COMMA);
  out.text(USER_MESSAGE);
  if (partCount == 1 && textCount == 1) {
    // one text part: a plain string, which every OpenAI-compatible provider reads
    const p = parts.data + <usize>TEXT_PART_START.byteLength;
    out.byte(QUOTE);
    out.bytes(p, parts.length - <usize>TEXT_PART_START.byteLength - <usize>PART_STRING_END.byteLength);
    out.byte(QUOTE);
  } else {
    out.byte(OPEN_BRACKET);
    out.bytes(parts.data, parts.length);
    out.byte(CLOSE_BRACKET);
  }
  out.byte(CLOSE_BRACE);
  return written + 1;
}

function writeImagePart(t: Tape, block: i32, index: i32, blockIndex: i32, out: ByteWriter, err: TranslationError): bool {
  const source = t.member(block, SOURCE);
  const type = t.member(source, TYPE);
  if (t.equals(type, BASE64)) {
    const media = t.member(source, MEDIA_TYPE);
    const data = t.member(source, DATA);
    if (!t.isString(media) || !t.isString(data)) return invalid(err, blockField(index, blockIndex, ".source"), "needs media_type and data");
    out.text(IMAGE_PART_START);
    out.text(DATA_URL_START);
    out.bytes(t.start(media), t.size(media));
    out.text(BASE64_MARK);
    out.bytes(t.start(data), t.size(data));
    out.text(IMAGE_PART_END);
    return true;
  }
  if (t.equals(type, URL)) {
    const url = t.member(source, URL);
    if (!t.isString(url)) return invalid(err, blockField(index, blockIndex, ".source.url"), "must be a string");
    out.text(IMAGE_PART_START);
    out.bytes(t.start(url), t.size(url));
    out.text(IMAGE_PART_END);
    return true;
  }
  return invalid(err, blockField(index, blockIndex, ".source.type"), "must be \"base64\" or \"url\"");
}

// A document block: a base64 PDF as a file part, plain text as a text part. Returns how many text
// parts it wrote (0 or 1), or -1.
function writeDocumentPart(t: Tape, block: i32, index: i32, blockIndex: i32, target: Target, out: ByteWriter, err: TranslationError): i32 {
  const source = t.member(block, SOURCE);
  const type = t.member(source, TYPE);
  const media = t.member(source, MEDIA_TYPE);
  const data = t.member(source, DATA);
  if (t.equals(type, BASE64) && t.equals(media, APPLICATION_PDF) && t.isString(data)) {
    out.text(FILE_PART_START);
    out.bytes(t.start(media), t.size(media));
    out.text(BASE64_MARK);
    out.bytes(t.start(data), t.size(data));
    out.text(IMAGE_PART_END);
    return 0;
  }
  if (t.equals(type, TEXT) && t.isString(data)) {
    out.text(TEXT_PART_START);
    out.bytes(t.start(data), t.size(data));
    out.text(PART_STRING_END);
    return 1;
  }
  refuse(err, target, blockField(index, blockIndex, ".source"), "is not a base64 PDF or plain text document");
  return -1;
}

function writeToolMessage(t: Tape, block: i32, index: i32, blockIndex: i32, target: Target, out: ByteWriter, err: TranslationError): bool {
  const id = t.member(block, TOOL_USE_ID);
  if (!t.isString(id)) return invalid(err, blockField(index, blockIndex, ".tool_use_id"), "must be a string");
  out.text(TOOL_MESSAGE);
  out.quoted(t.start(id), t.size(id));
  out.text(CONTENT_MEMBER);
  const content = t.member(block, CONTENT);
  if (t.isString(content)) {
    out.quoted(t.start(content), t.size(content));
  } else if (t.isArray(content)) {
    let texts = 0;
    for (let b = t.firstItem(content); b >= 0; b = t.nextItem(content, b)) {
      if (!t.equals(t.member(b, TYPE), TEXT) || !t.isString(t.member(b, TEXT))) {
        return refuse(err, target, blockField(index, blockIndex, ".content"), "holds a block other than text (a tool message carries text only)");
      }
      if (t.size(t.member(b, TEXT)) > 0) texts++;
    }
    if (texts == 0) out.text(EMPTY_STRING);
    else writeTextContent(t, content, texts, out);
  } else if (t.isAbsent(content)) {
    out.text(EMPTY_STRING);
  } else {
    return invalid(err, blockField(index, blockIndex, ".content"), "must be a string or an array of text blocks");
  }
  out.byte(CLOSE_BRACE);
  return true;
}

// An assistant turn: its text as content, its tool_use blocks as tool_calls (input → arguments, the
// JSON object's text as a string). Returns 1, 0 (nothing to say) or -1.
function writeAssistant(t: Tape, content: i32, index: i32, target: Target, out: ByteWriter, count: i32, err: TranslationError): i32 {
  if (t.isString(content)) return writeStringMessage(t, content, ASSISTANT_MESSAGE, out, count);
  if (!t.isArray(content)) { invalid(err, field(index, ".content"), "must be a string or an array of content blocks"); return -1; }
  let texts = 0;
  let calls = 0;
  let blockIndex = 0;
  for (let b = t.firstItem(content); b >= 0; b = t.nextItem(content, b), blockIndex++) {
    const type = t.member(b, TYPE);
    if (t.equals(type, TEXT)) {
      const text = t.member(b, TEXT);
      if (!t.isString(text)) { invalid(err, blockField(index, blockIndex, ".text"), "must be a string"); return -1; }
      if (t.size(text) > 0) texts++;
    } else if (t.equals(type, TOOL_USE)) {
      if (!t.isString(t.member(b, ID)) || !t.isString(t.member(b, NAME))) {
        invalid(err, blockField(index, blockIndex, ""), "needs an id and a name"); return -1;
      }
      const input = t.member(b, INPUT);
      if (!t.isObject(input) && !t.isAbsent(input)) {
        invalid(err, blockField(index, blockIndex, ".input"), "must be an object"); return -1;
      }
      calls++;
    } else if (t.equals(type, THINKING) || t.equals(type, REDACTED_THINKING)) {
      continue;
    } else {
      refuse(err, target, blockField(index, blockIndex, ".type"), "is a content block chat completions has no place for");
      return -1;
    }
  }
  if (texts == 0 && calls == 0) return 0;
  if (count > 0) out.byte(COMMA);
  out.text(ASSISTANT_MESSAGE);
  if (texts == 0) out.text(NULL);
  else writeTextContent(t, content, texts, out);
  if (calls > 0) {
    out.text(TOOL_CALLS_START);
    let i = 0;
    for (let b = t.firstItem(content); b >= 0; b = t.nextItem(content, b)) {
      if (!t.equals(t.member(b, TYPE), TOOL_USE)) continue;
      if (i++ > 0) out.byte(COMMA);
      const id = t.member(b, ID), name = t.member(b, NAME), input = t.member(b, INPUT);
      out.text(TOOL_CALL_START);
      out.quoted(t.start(id), t.size(id));
      out.text(FUNCTION_START);
      out.quoted(t.start(name), t.size(name));
      out.text(ARGUMENTS_START);
      if (t.isObject(input)) out.escaped(t.start(input), t.size(input));
      else out.text(EMPTY_OBJECT_TEXT);
      out.text(TOOL_CALL_END);
    }
    out.byte(CLOSE_BRACKET);
  }
  out.byte(CLOSE_BRACE);
  return 1;
}
const EMPTY_OBJECT_TEXT = utf8("{}");

function writeTools(t: Tape, target: Target, out: ByteWriter, err: TranslationError): bool {
  const tools = unchecked(topValues[Top.Tools]);
  if (t.isAbsent(tools)) return true;
  if (!t.isArray(tools)) return invalid(err, "tools", "must be an array");
  if (t.firstItem(tools) < 0) return true;
  out.text(TOOLS_START);
  let index = 0;
  for (let tool = t.firstItem(tools); tool >= 0; tool = t.nextItem(tools, tool), index++) {
    const type = t.member(tool, TYPE);
    if (!t.isAbsent(type) && !t.equals(type, CUSTOM)) return refuse(err, target, listField("tools", index, ".type"), "is an Anthropic server tool");
    const name = t.member(tool, NAME);
    if (!t.isString(name)) return invalid(err, listField("tools", index, ".name"), "must be a string");
    if (index > 0) out.byte(COMMA);
    out.text(FUNCTION_TOOL_START);
    out.quoted(t.start(name), t.size(name));
    const description = t.member(tool, DESCRIPTION);
    if (t.isString(description)) { out.text(DESCRIPTION_MEMBER); out.quoted(t.start(description), t.size(description)); }
    out.text(PARAMETERS_MEMBER);
    const schema = t.member(tool, INPUT_SCHEMA);
    if (t.isObject(schema)) out.bytes(t.start(schema), t.size(schema));
    else out.text(EMPTY_PARAMETERS);
    out.text(TOOL_END);
  }
  out.byte(CLOSE_BRACKET);

  const choice = unchecked(topValues[Top.ToolChoice]);
  if (!t.isObject(choice)) return true;
  const type = t.member(choice, TYPE);
  if (t.equals(type, AUTO)) out.text(TOOL_CHOICE_AUTO);
  else if (t.equals(type, ANY)) out.text(TOOL_CHOICE_REQUIRED);
  else if (t.equals(type, NONE)) { out.text(TOOL_CHOICE_NONE); return true; }
  else if (t.equals(type, TOOL)) {
    const name = t.member(choice, NAME);
    if (!t.isString(name)) return invalid(err, "tool_choice.name", "must be a string");
    out.text(TOOL_CHOICE_FUNCTION);
    out.quoted(t.start(name), t.size(name));
    out.text(TOOL_END);
  } else {
    return invalid(err, "tool_choice.type", "must be auto, any, tool or none");
  }
  if (t.kind(t.member(choice, DISABLE_PARALLEL)) == Kind.True) out.text(NO_PARALLEL);
  return true;
}

// ---- response and stream pieces -------------------------------------------------------------------

const CHOICES = utf8("choices");
const MESSAGE = utf8("message");
const REFUSAL = utf8("refusal");
const TOOL_CALLS = utf8("tool_calls");
const FUNCTION = utf8("function");
const ARGUMENTS = utf8("arguments");
const FINISH_REASON = utf8("finish_reason");
const USAGE = utf8("usage");
const PROMPT_TOKENS = utf8("prompt_tokens");
const COMPLETION_TOKENS = utf8("completion_tokens");
const PROMPT_DETAILS = utf8("prompt_tokens_details");
const CACHED_TOKENS = utf8("cached_tokens");
const ERROR = utf8("error");
const MODEL = utf8("model");
const DELTA = utf8("delta");
const INDEX = utf8("index");
const EMPTY = utf8("");
const API_ERROR = utf8("api_error");

const MESSAGE_ID = utf8("{\"id\":");
const MESSAGE_HEAD = utf8(",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
const CONTENT_START = utf8(",\"content\":[");
const TEXT_BLOCK_START = utf8("{\"type\":\"text\",\"text\":\"");
const BLOCK_STRING_END = utf8("\",\"citations\":null}");
const TOOL_USE_BLOCK_START = utf8("{\"type\":\"tool_use\",\"id\":");
const TOOL_USE_NAME = utf8(",\"name\":");
const TOOL_USE_INPUT = utf8(",\"input\":");
const DIRECT_CALLER = utf8(",\"caller\":{\"type\":\"direct\"}}");
const STOP_REASON_START = utf8("],\"stop_reason\":\"");
const USAGE_START = utf8("\",\"stop_sequence\":null,\"stop_details\":null,\"container\":null,\"usage\":");

const MESSAGE_START_HEAD = utf8("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":");
const MESSAGE_START_TAIL = utf8(",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"stop_details\":null,\"container\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":null,\"cache_read_input_tokens\":null,\"cache_creation\":null,\"server_tool_use\":null,\"service_tier\":null,\"inference_geo\":null}}}\n\n");
const TEXT_BLOCK_EVENT_START = utf8("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":");
const TEXT_BLOCK_EVENT_END = utf8(",\"content_block\":{\"type\":\"text\",\"text\":\"\",\"citations\":null}}\n\n");
const TEXT_DELTA_START = utf8("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":");
const TEXT_DELTA_TEXT = utf8(",\"delta\":{\"type\":\"text_delta\",\"text\":\"");
const DELTA_END = utf8("\"}}\n\n");
const TOOL_BLOCK_EVENT_START = TEXT_BLOCK_EVENT_START;
const TOOL_BLOCK_EVENT_ID = utf8(",\"content_block\":{\"type\":\"tool_use\",\"id\":");
const GENERATED_ID_START = utf8("\"toolu_gateway_");
const TOOL_BLOCK_EVENT_NAME = utf8(",\"name\":");
const TOOL_BLOCK_EVENT_END = utf8(",\"input\":{},\"caller\":{\"type\":\"direct\"}}}\n\n");
const JSON_DELTA_START = TEXT_DELTA_START;
const JSON_DELTA_PARTIAL = utf8(",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"");
const BLOCK_STOP_START = utf8("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":");
const BLOCK_STOP_END = utf8("}\n\n");
const MESSAGE_DELTA_START = utf8("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
const MESSAGE_DELTA_USAGE = utf8("\",\"stop_sequence\":null,\"stop_details\":null,\"container\":null},\"usage\":");
const MESSAGE_DELTA_END = utf8("}\n\n");
const MESSAGE_STOP_EVENT = utf8("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
const ERROR_EVENT = eventHead("error");

const END_TURN = utf8("end_turn");
const MAX_TOKENS_REASON = utf8("max_tokens");
const TOOL_USE_REASON = utf8("tool_use");
const REFUSAL_REASON = utf8("refusal");
const FINISH_REASONS: StaticArray<ArrayBuffer> = [utf8("stop"), utf8("length"), utf8("tool_calls"), utf8("function_call"), utf8("content_filter")];
const STOP_OF: StaticArray<ArrayBuffer> = [END_TURN, MAX_TOKENS_REASON, TOOL_USE_REASON, TOOL_USE_REASON, REFUSAL_REASON];

function stopReasonOf(t: Tape, reason: i32): ArrayBuffer {
  if (!t.isString(reason)) return END_TURN;
  const i = nameIndex(t, reason, FINISH_REASONS);
  return i < 0 ? END_TURN : unchecked(STOP_OF[i]);
}

function writeStringOr(out: ByteWriter, t: Tape, v: i32): void {
  if (t.isString(v)) out.quoted(t.start(v), t.size(v));
  else out.text(EMPTY_STRING);
}

// A tool call's arguments string as the `input` object ({} when empty). False when it holds
// something else than a JSON object.
function writeInput(t: Tape, args: i32, out: ByteWriter): bool {
  if (t.isAbsent(args)) { out.text(EMPTY_OBJECT_TEXT); return true; }
  if (!plainValue(t, args)) return false;
  let p = valueStart, n = valueSize;
  while (n > 0 && isBlank(load<u8>(p))) { p++; n--; }
  while (n > 0 && isBlank(load<u8>(p + n - 1))) n--;
  if (n == 0) { out.text(EMPTY_OBJECT_TEXT); return true; }
  if (!inputTape.parse(p, n) || !inputTape.isObject(0)) return false;
  out.bytes(p, n);
  return true;
}
const inputTape = new Tape();

@inline function isBlank(c: u32): bool { return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09; }

const USAGE_INPUT = utf8("{\"input_tokens\":");
const USAGE_OUTPUT = utf8(",\"output_tokens\":");
const USAGE_CACHE_READ = utf8(",\"cache_read_input_tokens\":");
const USAGE_CACHE_WRITE = utf8(",\"cache_creation_input_tokens\":0");
const USAGE_END = utf8(",\"server_tool_use\":null}");
const USAGE_MESSAGE_END = utf8(",\"cache_creation\":null,\"server_tool_use\":null,\"service_tier\":null,\"inference_geo\":null}");

// Anthropic usage: input tokens exclude the ones read from the cache, which have their own count.
// A message's usage has every member Anthropic's schema lists; a message_delta's the ones its has.
function writeAnthropicUsage(out: ByteWriter, input: i64, output: i64, cacheRead: i64, whole: bool): void {
  out.text(USAGE_INPUT);
  out.uint(<u64>max<i64>(input, 0));
  out.text(USAGE_OUTPUT);
  out.uint(<u64>output);
  out.text(USAGE_CACHE_READ);
  out.uint(<u64>cacheRead);
  out.text(USAGE_CACHE_WRITE);
  out.text(whole ? USAGE_MESSAGE_END : USAGE_END);
}
