// OpenAI chat completions client → Anthropic Messages backend: the request, the JSON response, the
// provider's errors and the SSE stream. References: platform.openai.com/docs/api-reference/chat,
// docs.claude.com/en/api/messages and /en/api/messages-streaming (golden files and their review:
// test/golden/translation/openai_anthropic/).
//
// Request fields (docs/translation.md lists them):
//   carried over: messages, max_tokens / max_completion_tokens (the larger; the model's default
//     when neither), temperature (0..1), top_p, top_k, stop, stream, stream_options.include_usage
//     (kept for the stream), user (or safety_identifier) → metadata.user_id, tools, tool_choice,
//     parallel_tool_calls;
//   refused with 400 (the answer would change or lose what the client asked for): n > 1, logprobs,
//     top_logprobs, logit_bias, audio, modalities with audio, response_format json_object /
//     json_schema, functions, function_call, web_search_options, non-function tools, temperature
//     above 1;
//   dropped (they tune cost, latency or sampling, not what an answer is): frequency_penalty,
//     presence_penalty, seed, store, metadata, service_tier, reasoning_effort, verbosity,
//     prediction, prompt_cache_key, prompt_cache_retention, a tool's strict, a message's name,
//     an image's detail, and members no version of the API has.
import { Kind, Tape } from "./tape";
import { ByteWriter, utf8, COMMA, QUOTE, CLOSE_BRACE, CLOSE_BRACKET } from "./writer";
import { TranslationError, writeOpenAIErrorRaw, openaiErrorType } from "./errors";
import {
  DATA_SCHEME, listField, SSE_DATA, SSE_DONE, SSE_END, Target, argumentsTape, base64Size, base64Start, documentTape, eventTape,
  isAnthropicImageType, mediaSize, mediaStart, nameIndex, parseDataUrl, plainValue, startsWith, valueSize, valueStart,
} from "./common";
import { SseSplitter } from "./sse";

// ---- names -----------------------------------------------------------------------------------------

const enum Top {
  Messages, MaxTokens, MaxCompletionTokens, Temperature, TopP, TopK, Stop, Stream, StreamOptions, User,
  SafetyIdentifier, Tools, ToolChoice, ParallelToolCalls, N, Logprobs, TopLogprobs, LogitBias, Audio,
  Modalities, ResponseFormat, Functions, FunctionCall, WebSearchOptions,
}
const TOP_NAMES: StaticArray<ArrayBuffer> = [
  utf8("messages"), utf8("max_tokens"), utf8("max_completion_tokens"), utf8("temperature"), utf8("top_p"),
  utf8("top_k"), utf8("stop"), utf8("stream"), utf8("stream_options"), utf8("user"), utf8("safety_identifier"),
  utf8("tools"), utf8("tool_choice"), utf8("parallel_tool_calls"), utf8("n"), utf8("logprobs"),
  utf8("top_logprobs"), utf8("logit_bias"), utf8("audio"), utf8("modalities"), utf8("response_format"),
  utf8("functions"), utf8("function_call"), utf8("web_search_options"),
];
const TOP_COUNT = 24;

const ROLE = utf8("role");
const CONTENT = utf8("content");
const TYPE = utf8("type");
const TEXT = utf8("text");
const REFUSAL = utf8("refusal");
const IMAGE_URL = utf8("image_url");
const URL = utf8("url");
const FILE = utf8("file");
const FILE_DATA = utf8("file_data");
const FILE_ID = utf8("file_id");
const INPUT_AUDIO = utf8("input_audio");
const TOOL_CALLS = utf8("tool_calls");
const TOOL_CALL_ID = utf8("tool_call_id");
const FUNCTION = utf8("function");
const FUNCTION_CALL = utf8("function_call");
const NAME = utf8("name");
const ARGUMENTS = utf8("arguments");
const DESCRIPTION = utf8("description");
const PARAMETERS = utf8("parameters");
const INCLUDE_USAGE = utf8("include_usage");
const AUTO = utf8("auto");
const NONE = utf8("none");
const REQUIRED = utf8("required");
const AUDIO = utf8("audio");
const APPLICATION_PDF = utf8("application/pdf");

const enum Role { Unknown, System, User, Assistant, Tool }
const ROLE_NAMES: StaticArray<ArrayBuffer> = [utf8("system"), utf8("developer"), utf8("user"), utf8("assistant"), utf8("tool")];
const ROLE_OF: StaticArray<Role> = [Role.System, Role.System, Role.User, Role.Assistant, Role.Tool];

// ---- what is written ---------------------------------------------------------------------------------

const REQUEST_MODEL = utf8("{\"model\":");
const MAX_TOKENS_MEMBER = utf8(",\"max_tokens\":");
const SYSTEM_START = utf8(",\"system\":[");
const TEXT_BLOCK_START = utf8("{\"type\":\"text\",\"text\":\"");
const BLOCK_STRING_END = utf8("\"}");
const MESSAGES_START = utf8(",\"messages\":[");
const USER_TURN = utf8("{\"role\":\"user\",\"content\":[");
const ASSISTANT_TURN = utf8("{\"role\":\"assistant\",\"content\":[");
const TURN_END = utf8("]}");
const IMAGE_URL_START = utf8("{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"");
const IMAGE_BASE64_START = utf8("{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"");
const DOCUMENT_BASE64_START = utf8("{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"");
const BASE64_DATA = utf8("\",\"data\":\"");
const SOURCE_END = utf8("\"}}");
const TOOL_USE_START = utf8("{\"type\":\"tool_use\",\"id\":");
const NAME_MEMBER = utf8(",\"name\":");
const INPUT_MEMBER = utf8(",\"input\":");
const EMPTY_OBJECT = utf8("{}");
const TOOL_RESULT_START = utf8("{\"type\":\"tool_result\",\"tool_use_id\":");
const CONTENT_MEMBER = utf8(",\"content\":");
const TOOLS_START = utf8(",\"tools\":[");
const TOOL_NAME_START = utf8("{\"name\":");
const DESCRIPTION_MEMBER = utf8(",\"description\":");
const INPUT_SCHEMA_MEMBER = utf8(",\"input_schema\":");
const EMPTY_SCHEMA = utf8("{\"type\":\"object\",\"properties\":{}}");
const TOOL_CHOICE_AUTO = utf8(",\"tool_choice\":{\"type\":\"auto\"");
const TOOL_CHOICE_ANY = utf8(",\"tool_choice\":{\"type\":\"any\"");
const TOOL_CHOICE_NONE = utf8(",\"tool_choice\":{\"type\":\"none\"}");
const TOOL_CHOICE_TOOL = utf8(",\"tool_choice\":{\"type\":\"tool\",\"name\":");
const NO_PARALLEL = utf8(",\"disable_parallel_tool_use\":true");
const TEMPERATURE_MEMBER = utf8(",\"temperature\":");
const TOP_P_MEMBER = utf8(",\"top_p\":");
const TOP_K_MEMBER = utf8(",\"top_k\":");
const STOP_SEQUENCES_START = utf8(",\"stop_sequences\":[");
const STREAM_TRUE = utf8(",\"stream\":true");
const METADATA_START = utf8(",\"metadata\":{\"user_id\":");

// ---- request -----------------------------------------------------------------------------------------

// Where a request turns out not to be translatable: the status, code and message, naming the field
// and the model.
function refuse(err: TranslationError, target: Target, field: string, why: string): bool {
  return err.refuse(field, why, target.name, "is an Anthropic model, which cannot honour it");
}

@inline function invalid(err: TranslationError, field: string, why: string): bool { return err.invalid(field, why); }

export class OpenAIToAnthropic {
  stream: bool = false;
  includeUsage: bool = false;
  // ---- stream state
  private started: bool = false;   // message_start seen: the chunk prefix is known
  private finished: bool = false;  // [DONE] written (or an error event): nothing more is
  private prefix: ByteWriter = new ByteWriter(); // `data: {"id":…,"object":…,"created":…,"model":…,"choices":[`
  private blockIsTool: bool = false;
  private blockSkipped: bool = false; // a block kind chat completions has no place for (thinking…)
  private toolIndex: i32 = -1;        // OpenAI index of the tool call being streamed
  private inputTokens: i64 = 0;
  private cacheReadTokens: i64 = 0;
  private cacheWriteTokens: i64 = 0;
  private outputTokens: i64 = 0;
  private finishReason: ArrayBuffer | null = null;
  created: i64 = 0; // seconds since the epoch, for `created`

  reset(created: i64): void {
    this.stream = false;
    this.includeUsage = false;
    this.started = false;
    this.finished = false;
    this.prefix.reset();
    this.blockIsTool = false;
    this.blockSkipped = false;
    this.toolIndex = -1;
    this.inputTokens = 0;
    this.cacheReadTokens = 0;
    this.cacheWriteTokens = 0;
    this.outputTokens = 0;
    this.finishReason = null;
    this.created = created;
  }

  // Translates the chat completions request [p, p + n) into `out`. False (err set) when it cannot.
  request(p: usize, n: usize, target: Target, out: ByteWriter, err: TranslationError): bool {
    const t = documentTape;
    if (!t.parse(p, n) || !t.isObject(0)) return invalid(err, "body", "is not a JSON object");
    // the top-level members this translation reads, by Top (the last of a name, as JSON.parse)
    for (let i = 0; i < TOP_COUNT; i++) unchecked(topValues[i] = -1);
    for (let k = t.firstMember(0); k >= 0; k = t.nextMember(0, k)) {
      const f = nameIndex(t, k, TOP_NAMES);
      if (f >= 0) unchecked(topValues[f] = k + 1);
    }
    if (!this.checkUnsupported(t, target, err)) return false;

    const messages = unchecked(topValues[Top.Messages]);
    if (!t.isArray(messages)) return invalid(err, "messages", "must be an array of messages");

    out.reset();
    out.text(REQUEST_MODEL);
    out.text(target.literal);

    // max_tokens: the larger of the two spellings, else the model's default (Anthropic requires it)
    let maxTokens: i64 = -1;
    for (let f = Top.MaxTokens; f <= Top.MaxCompletionTokens; f++) {
      const v = unchecked(topValues[f]);
      if (t.isAbsent(v)) continue;
      const value = t.integer(v);
      if (value < 0) return invalid(err, f == Top.MaxTokens ? "max_tokens" : "max_completion_tokens", "must be a whole number");
      if (value > maxTokens) maxTokens = value;
    }
    out.text(MAX_TOKENS_MEMBER);
    out.uint(<u64>(maxTokens >= 0 ? maxTokens : target.defaultMaxTokens));

    if (!this.writeSystem(t, messages, err)) return false;
    if (!this.writeMessages(t, messages, target, out, err)) return false;
    if (!this.writeTools(t, target, out, err)) return false;
    if (!this.writeSampling(t, target, out, err)) return false;

    const stream = unchecked(topValues[Top.Stream]);
    this.stream = t.kind(stream) == Kind.True;
    if (this.stream) out.text(STREAM_TRUE);
    const options = unchecked(topValues[Top.StreamOptions]);
    this.includeUsage = this.stream && t.kind(t.member(options, INCLUDE_USAGE)) == Kind.True;

    let user = unchecked(topValues[Top.User]);
    if (!t.isString(user)) user = unchecked(topValues[Top.SafetyIdentifier]);
    if (t.isString(user) && t.size(user) > 0) {
      out.text(METADATA_START);
      out.quoted(t.start(user), t.size(user));
      out.byte(CLOSE_BRACE);
    }
    out.byte(CLOSE_BRACE);
    return true;
  }

  // The fields whose meaning Anthropic's API cannot carry.
  private checkUnsupported(t: Tape, target: Target, err: TranslationError): bool {
    const n = unchecked(topValues[Top.N]);
    if (!t.isAbsent(n) && t.number(n) != 1) return refuse(err, target, "n", "asks for several choices");
    if (t.kind(unchecked(topValues[Top.Logprobs])) == Kind.True) return refuse(err, target, "logprobs", "asks for token log probabilities");
    const top = unchecked(topValues[Top.TopLogprobs]);
    if (!t.isAbsent(top) && t.number(top) != 0) return refuse(err, target, "top_logprobs", "asks for token log probabilities");
    const bias = unchecked(topValues[Top.LogitBias]);
    if (t.isObject(bias) && t.firstMember(bias) >= 0) return refuse(err, target, "logit_bias", "biases token ids of OpenAI's tokenizer");
    if (!t.isAbsent(unchecked(topValues[Top.Audio]))) return refuse(err, target, "audio", "asks for an audio answer");
    const modalities = unchecked(topValues[Top.Modalities]);
    if (t.isArray(modalities)) {
      for (let i = t.firstItem(modalities); i >= 0; i = t.nextItem(modalities, i)) {
        if (t.equals(i, AUDIO)) return refuse(err, target, "modalities", "asks for an audio answer");
      }
    }
    const format = unchecked(topValues[Top.ResponseFormat]);
    if (!t.isAbsent(format) && !t.equals(t.member(format, TYPE), TEXT)) {
      return refuse(err, target, "response_format", "asks for JSON output the model is not held to");
    }
    if (!t.isAbsent(unchecked(topValues[Top.Functions]))) return refuse(err, target, "functions", "is the deprecated form of `tools` (use `tools`)");
    if (!t.isAbsent(unchecked(topValues[Top.FunctionCall]))) return refuse(err, target, "function_call", "is the deprecated form of `tool_choice` (use `tool_choice`)");
    if (!t.isAbsent(unchecked(topValues[Top.WebSearchOptions]))) return refuse(err, target, "web_search_options", "asks for OpenAI's web search");
    const temperature = unchecked(topValues[Top.Temperature]);
    if (t.kind(temperature) == Kind.Number && t.number(temperature) > 1) {
      return refuse(err, target, "temperature", "is above 1 (Anthropic accepts 0 to 1)");
    }
    return true;
  }

  // system and developer messages, in order, as the top-level `system` text blocks.
  private writeSystem(t: Tape, messages: i32, err: TranslationError): bool {
    let count = 0;
    const out = systemScratch;
    out.reset();
    let index = 0;
    for (let m = t.firstItem(messages); m >= 0; m = t.nextItem(messages, m), index++) {
      if (!t.isObject(m)) return invalid(err, "messages[" + index.toString() + "]", "must be an object");
      if (roleOf(t, m) != Role.System) continue;
      const content = t.member(m, CONTENT);
      if (t.isString(content)) {
        if (t.size(content) == 0) continue;
        if (count++ > 0) out.byte(COMMA);
        writeTextBlock(out, t.start(content), t.size(content));
        continue;
      }
      if (!t.isArray(content)) return invalid(err, "messages[" + index.toString() + "].content", "must be a string or an array of text parts");
      for (let part = t.firstItem(content); part >= 0; part = t.nextItem(content, part)) {
        const text = t.member(part, TEXT);
        if (!t.equals(t.member(part, TYPE), TEXT) || !t.isString(text)) {
          return invalid(err, "messages[" + index.toString() + "].content", "of a system message must hold text parts only");
        }
        if (t.size(text) == 0) continue;
        if (count++ > 0) out.byte(COMMA);
        writeTextBlock(out, t.start(text), t.size(text));
      }
    }
    this.systemBlocks = count;
    return true;
  }
  private systemBlocks: i32 = 0;

  // The conversation as alternating user / assistant turns of content blocks: consecutive messages
  // of one side are merged (tool results go into the user turn), as Anthropic's API requires.
  private writeMessages(t: Tape, messages: i32, target: Target, out: ByteWriter, err: TranslationError): bool {
    if (this.systemBlocks > 0) {
      out.text(SYSTEM_START);
      out.bytes(systemScratch.data, systemScratch.length);
      out.byte(CLOSE_BRACKET);
    }
    out.text(MESSAGES_START);
    turns.begin(out);
    let index = 0;
    for (let m = t.firstItem(messages); m >= 0; m = t.nextItem(messages, m), index++) {
      const role = roleOf(t, m);
      if (role == Role.System) continue;
      if (role == Role.Unknown) {
        const r = t.member(m, ROLE);
        if (t.isString(r) && t.equals(r, FUNCTION)) return refuse(err, target, "messages[" + index.toString() + "].role", "\"function\" is the deprecated form of tool messages");
        return invalid(err, "messages[" + index.toString() + "].role", "must be one of system, developer, user, assistant, tool");
      }
      const ok = role == Role.User ? writeUserContent(t, m, index, target, out, err)
        : role == Role.Assistant ? writeAssistant(t, m, index, target, out, err)
        : writeToolResult(t, m, index, out, err);
      if (!ok) return false;
    }
    if (turns.count == 0) return invalid(err, "messages", "hold no user or assistant content to send");
    turns.end();
    out.byte(CLOSE_BRACKET);
    return true;
  }

  private writeTools(t: Tape, target: Target, out: ByteWriter, err: TranslationError): bool {
    const tools = unchecked(topValues[Top.Tools]);
    if (t.isAbsent(tools)) return true;
    if (!t.isArray(tools)) return invalid(err, "tools", "must be an array");
    if (t.firstItem(tools) < 0) return true;
    out.text(TOOLS_START);
    let index = 0;
    for (let tool = t.firstItem(tools); tool >= 0; tool = t.nextItem(tools, tool), index++) {
      if (!t.equals(t.member(tool, TYPE), FUNCTION)) return refuse(err, target, listField("tools", index, ".type"), "is not \"function\"");
      const fn = t.member(tool, FUNCTION);
      const name = t.member(fn, NAME);
      if (!t.isString(name)) return invalid(err, listField("tools", index, ".function.name"), "must be a string");
      if (index > 0) out.byte(COMMA);
      out.text(TOOL_NAME_START);
      out.quoted(t.start(name), t.size(name));
      const description = t.member(fn, DESCRIPTION);
      if (t.isString(description)) {
        out.text(DESCRIPTION_MEMBER);
        out.quoted(t.start(description), t.size(description));
      }
      out.text(INPUT_SCHEMA_MEMBER);
      const parameters = t.member(fn, PARAMETERS);
      if (t.isObject(parameters)) out.bytes(t.start(parameters), t.size(parameters));
      else if (t.isAbsent(parameters)) out.text(EMPTY_SCHEMA);
      else return invalid(err, listField("tools", index, ".function.parameters"), "must be a JSON Schema object");
      out.byte(CLOSE_BRACE);
    }
    out.byte(CLOSE_BRACKET);

    const choice = unchecked(topValues[Top.ToolChoice]);
    const parallel = unchecked(topValues[Top.ParallelToolCalls]);
    const noParallel = t.kind(parallel) == Kind.False;
    if (t.isString(choice)) {
      if (t.equals(choice, NONE)) { out.text(TOOL_CHOICE_NONE); return true; }
      if (t.equals(choice, REQUIRED)) out.text(TOOL_CHOICE_ANY);
      else if (t.equals(choice, AUTO)) out.text(TOOL_CHOICE_AUTO);
      else return invalid(err, "tool_choice", "must be \"none\", \"auto\", \"required\" or a named function");
    } else if (t.isObject(choice)) {
      const name = t.member(t.member(choice, FUNCTION), NAME);
      if (!t.equals(t.member(choice, TYPE), FUNCTION) || !t.isString(name)) {
        return refuse(err, target, "tool_choice", "is not a named function");
      }
      out.text(TOOL_CHOICE_TOOL);
      out.quoted(t.start(name), t.size(name));
    } else if (noParallel) {
      out.text(TOOL_CHOICE_AUTO);
    } else {
      return true;
    }
    if (noParallel) out.text(NO_PARALLEL);
    out.byte(CLOSE_BRACE);
    return true;
  }

  private writeSampling(t: Tape, target: Target, out: ByteWriter, err: TranslationError): bool {
    const temperature = unchecked(topValues[Top.Temperature]);
    if (t.kind(temperature) == Kind.Number) { out.text(TEMPERATURE_MEMBER); out.bytes(t.start(temperature), t.size(temperature)); }
    const topP = unchecked(topValues[Top.TopP]);
    if (t.kind(topP) == Kind.Number) { out.text(TOP_P_MEMBER); out.bytes(t.start(topP), t.size(topP)); }
    const topK = unchecked(topValues[Top.TopK]);
    if (t.kind(topK) == Kind.Number) { out.text(TOP_K_MEMBER); out.bytes(t.start(topK), t.size(topK)); }
    const stop = unchecked(topValues[Top.Stop]);
    if (t.isString(stop)) {
      if (t.size(stop) > 0) {
        out.text(STOP_SEQUENCES_START);
        out.quoted(t.start(stop), t.size(stop));
        out.byte(CLOSE_BRACKET);
      }
    } else if (t.isArray(stop)) {
      const mark = out.length;
      out.text(STOP_SEQUENCES_START);
      let count = 0;
      for (let s = t.firstItem(stop); s >= 0; s = t.nextItem(stop, s)) {
        if (!t.isString(s)) return invalid(err, "stop", "must be a string or an array of strings");
        if (t.size(s) == 0) continue;
        if (count++ > 0) out.byte(COMMA);
        out.quoted(t.start(s), t.size(s));
      }
      if (count == 0) out.truncate(mark);
      else out.byte(CLOSE_BRACKET);
    } else if (!t.isAbsent(stop)) {
      return invalid(err, "stop", "must be a string or an array of strings");
    }
    return true;
  }

  // ---- response ---------------------------------------------------------------------------------------

  // The Anthropic message [p, p + n) as a chat.completion. False (err set) when it is not one.
  response(p: usize, n: usize, out: ByteWriter, err: TranslationError): bool {
    const t = documentTape;
    if (!t.parse(p, n) || !t.isObject(0)) return err.set(502, "invalid_provider_response", "the provider's answer is not a JSON object");
    out.reset();
    out.text(COMPLETION_ID);
    writeStringOr(out, t, t.member(0, ID), EMPTY);
    out.text(COMPLETION_OBJECT);
    out.uint(<u64>max<i64>(this.created, 0));
    out.text(MODEL_MEMBER);
    writeStringOr(out, t, t.member(0, MODEL), EMPTY);
    out.text(MESSAGE_START);
    const content = t.member(0, CONTENT);
    // text: every text block, joined
    let texts = 0;
    if (t.isArray(content)) {
      for (let b = t.firstItem(content); b >= 0; b = t.nextItem(content, b)) {
        const text = t.member(b, TEXT);
        if (!t.equals(t.member(b, TYPE), TEXT) || !t.isString(text)) continue;
        out.bytes(t.start(text), t.size(text));
        texts++;
      }
    }
    if (texts == 0) {
      out.truncate(out.length - 1);
      out.text(NULL);
    } else {
      out.byte(QUOTE);
    }
    // tool calls: every tool_use block
    let calls = 0;
    if (t.isArray(content)) {
      for (let b = t.firstItem(content); b >= 0; b = t.nextItem(content, b)) {
        if (!t.equals(t.member(b, TYPE), TOOL_USE)) continue;
        out.text(calls++ == 0 ? TOOL_CALLS_START : TOOL_CALL_NEXT);
        writeStringOr(out, t, t.member(b, ID), EMPTY);
        out.text(FUNCTION_NAME);
        writeStringOr(out, t, t.member(b, NAME), EMPTY);
        out.text(ARGUMENTS_MEMBER);
        const input = t.member(b, INPUT);
        if (t.isObject(input)) out.escaped(t.start(input), t.size(input));
        else out.text(ESCAPED_EMPTY_OBJECT);
        out.text(TOOL_CALL_END);
      }
    }
    if (calls > 0) out.byte(CLOSE_BRACKET);
    out.text(MESSAGE_END);
    out.text(finishReasonOf(t, t.member(0, STOP_REASON)));
    out.text(USAGE_START);
    const usage = t.member(0, USAGE);
    const input = max<i64>(t.integer(t.member(usage, INPUT_TOKENS)), 0);
    const read = max<i64>(t.integer(t.member(usage, CACHE_READ)), 0);
    const write = max<i64>(t.integer(t.member(usage, CACHE_CREATION)), 0);
    const output = max<i64>(t.integer(t.member(usage, OUTPUT_TOKENS)), 0);
    writeChatUsage(out, input + read + write, output, read);
    out.byte(CLOSE_BRACE);
    return true;
  }

  // A provider's error answer [p, p + n) (Anthropic's shape, or anything) in OpenAI's shape.
  error(status: i32, p: usize, n: usize, out: ByteWriter): void {
    out.reset();
    const t = documentTape;
    if (t.parse(p, n) && t.isObject(0)) {
      const error = t.member(0, ERROR);
      const message = t.member(error, MESSAGE);
      const type = t.member(error, TYPE);
      if (t.isString(message)) {
        const typeStart = t.isString(type) ? t.start(type) : 0;
        const typeSize = t.isString(type) ? t.size(type) : 0;
        const fallback = openaiErrorType(status);
        writeOpenAIErrorRaw(out, t.start(message), t.size(message),
          typeSize > 0 ? typeStart : changetype<usize>(fallback), typeSize > 0 ? typeSize : <usize>fallback.byteLength,
          typeSize > 0 ? typeStart : 0, typeSize);
        return;
      }
    }
    // Not Anthropic's shape (an HTML page, Envoy's own text): its text, bounded, as the message.
    messageScratch.reset();
    messageScratch.escapedText(p, min<usize>(n, MAX_FOREIGN_MESSAGE));
    const fallback = openaiErrorType(status);
    writeOpenAIErrorRaw(out, messageScratch.data, messageScratch.length, changetype<usize>(fallback), <usize>fallback.byteLength, 0, 0);
  }

  // ---- stream -----------------------------------------------------------------------------------------

  // Translates every complete event the splitter has from the chunk it was fed.
  streamEvents(events: SseSplitter, out: ByteWriter): void {
    while (events.next()) this.event(events, out);
  }

  // The stream ended: an event left without its blank line is read as complete.
  streamEnd(events: SseSplitter, out: ByteWriter): void {
    if (events.finish()) this.event(events, out);
  }

  private event(events: SseSplitter, out: ByteWriter): void {
    if (this.finished || !events.hasData) return;
    const t = eventTape;
    if (!t.parse(events.dataStart, events.dataEnd - events.dataStart) || !t.isObject(0)) return;
    const type = t.member(0, TYPE);
    if (t.equals(type, CONTENT_BLOCK_DELTA)) this.blockDelta(t, out);
    else if (t.equals(type, CONTENT_BLOCK_START)) this.blockStart(t, out);
    else if (t.equals(type, MESSAGE_START_EVENT)) this.messageStart(t, out);
    else if (t.equals(type, MESSAGE_DELTA)) this.messageDelta(t, out);
    else if (t.equals(type, MESSAGE_STOP)) this.messageStop(out);
    else if (t.equals(type, ERROR)) this.streamError(t, out);
    // ping, content_block_stop and event types added later: nothing to say in chat completions
  }

  private messageStart(t: Tape, out: ByteWriter): void {
    const message = t.member(0, MESSAGE);
    const prefix = this.prefix;
    prefix.reset();
    prefix.text(CHUNK_ID);
    writeStringOr(prefix, t, t.member(message, ID), EMPTY);
    prefix.text(CHUNK_OBJECT);
    prefix.uint(<u64>max<i64>(this.created, 0));
    prefix.text(MODEL_MEMBER);
    writeStringOr(prefix, t, t.member(message, MODEL), EMPTY);
    prefix.text(CHOICES_START);
    this.started = true;
    this.readUsage(t, t.member(message, USAGE));
    this.chunk(out, ROLE_DELTA, null);
  }

  private readUsage(t: Tape, usage: i32): void {
    if (!t.isObject(usage)) return;
    const input = t.integer(t.member(usage, INPUT_TOKENS));
    if (input >= 0) this.inputTokens = input;
    const read = t.integer(t.member(usage, CACHE_READ));
    if (read >= 0) this.cacheReadTokens = read;
    const write = t.integer(t.member(usage, CACHE_CREATION));
    if (write >= 0) this.cacheWriteTokens = write;
    const output = t.integer(t.member(usage, OUTPUT_TOKENS));
    if (output >= 0) this.outputTokens = output;
  }

  private blockStart(t: Tape, out: ByteWriter): void {
    if (!this.started) return;
    const block = t.member(0, CONTENT_BLOCK);
    const type = t.member(block, TYPE);
    this.blockIsTool = false;
    this.blockSkipped = false;
    if (t.equals(type, TEXT)) {
      const text = t.member(block, TEXT);
      if (t.isString(text) && t.size(text) > 0) this.contentDelta(out, t.start(text), t.size(text));
      return;
    }
    if (!t.equals(type, TOOL_USE)) { this.blockSkipped = true; return; }
    this.blockIsTool = true;
    this.toolIndex++;
    out.bytes(this.prefix.data, this.prefix.length);
    out.text(TOOL_DELTA_START);
    out.uint(<u64>this.toolIndex);
    out.text(TOOL_DELTA_ID);
    writeStringOr(out, t, t.member(block, ID), EMPTY);
    out.text(TOOL_DELTA_NAME);
    writeStringOr(out, t, t.member(block, NAME), EMPTY);
    out.text(TOOL_DELTA_FIRST_END);
  }

  private blockDelta(t: Tape, out: ByteWriter): void {
    if (!this.started || this.blockSkipped) return;
    const delta = t.member(0, DELTA);
    const type = t.member(delta, TYPE);
    if (t.equals(type, TEXT_DELTA)) {
      const text = t.member(delta, TEXT);
      if (t.isString(text) && t.size(text) > 0) this.contentDelta(out, t.start(text), t.size(text));
      return;
    }
    if (!t.equals(type, INPUT_JSON_DELTA) || !this.blockIsTool) return;
    const partial = t.member(delta, PARTIAL_JSON);
    if (!t.isString(partial) || t.size(partial) == 0) return;
    out.bytes(this.prefix.data, this.prefix.length);
    out.text(TOOL_DELTA_START);
    out.uint(<u64>this.toolIndex);
    out.text(TOOL_DELTA_ARGUMENTS);
    out.bytes(t.start(partial), t.size(partial));
    out.text(TOOL_DELTA_END);
  }

  private contentDelta(out: ByteWriter, p: usize, n: usize): void {
    out.bytes(this.prefix.data, this.prefix.length);
    out.text(CONTENT_DELTA_START);
    out.bytes(p, n);
    out.text(CONTENT_DELTA_END);
  }

  private messageDelta(t: Tape, out: ByteWriter): void {
    if (!this.started) return;
    this.readUsage(t, t.member(0, USAGE));
    this.finishReason = finishReasonOf(t, t.member(t.member(0, DELTA), STOP_REASON));
    this.chunk(out, EMPTY_DELTA, this.finishReason);
  }

  private messageStop(out: ByteWriter): void {
    if (!this.started) return;
    if (this.includeUsage) {
      out.bytes(this.prefix.data, this.prefix.length);
      out.text(USAGE_CHUNK_START);
      writeChatUsage(out, this.inputTokens + this.cacheReadTokens + this.cacheWriteTokens, this.outputTokens, this.cacheReadTokens);
      out.byte(CLOSE_BRACE);
      out.text(SSE_END);
    }
    out.text(SSE_DONE);
    this.finished = true;
  }

  private streamError(t: Tape, out: ByteWriter): void {
    const error = t.member(0, ERROR);
    const message = t.member(error, MESSAGE);
    const type = t.member(error, TYPE);
    out.text(SSE_DATA);
    const fallback = openaiErrorType(500);
    writeOpenAIErrorRaw(out,
      t.isString(message) ? t.start(message) : changetype<usize>(EMPTY), t.isString(message) ? t.size(message) : 0,
      t.isString(type) ? t.start(type) : changetype<usize>(fallback), t.isString(type) ? t.size(type) : <usize>fallback.byteLength,
      t.isString(type) ? t.start(type) : 0, t.isString(type) ? t.size(type) : 0);
    out.text(SSE_END);
    this.finished = true;
  }

  // One chat.completion.chunk with `delta` (a JSON object's bytes) and a finish reason or null.
  private chunk(out: ByteWriter, delta: ArrayBuffer, finish: ArrayBuffer | null): void {
    out.bytes(this.prefix.data, this.prefix.length);
    out.text(CHOICE_START);
    out.text(delta);
    out.text(LOGPROBS_FINISH);
    if (finish === null) out.text(NULL);
    else { out.byte(QUOTE); out.text(finish); out.byte(QUOTE); }
    out.text(CHUNK_END);
  }

  get isFinished(): bool { return this.finished; }
}

// ---- request helpers -----------------------------------------------------------------------------

const topValues = new StaticArray<i32>(TOP_COUNT);
const systemScratch = new ByteWriter();
const messageScratch = new ByteWriter();
const MAX_FOREIGN_MESSAGE: usize = 2048;

function roleOf(t: Tape, m: i32): Role {
  const r = t.member(m, ROLE);
  if (!t.isString(r)) return Role.Unknown;
  const i = nameIndex(t, r, ROLE_NAMES);
  return i < 0 ? Role.Unknown : unchecked(ROLE_OF[i]);
}

@inline function writeTextBlock(out: ByteWriter, p: usize, n: usize): void {
  out.text(TEXT_BLOCK_START);
  out.bytes(p, n);
  out.text(BLOCK_STRING_END);
}

// The turns being written: a turn opens with its first block, so messages that bring no block
// (an empty assistant message) leave no empty turn behind, and same-side messages merge.
class Turns {
  out: ByteWriter = new ByteWriter();
  role: Role = Role.Unknown;
  blocks: i32 = 0;
  count: i32 = 0;

  begin(out: ByteWriter): void {
    this.out = out;
    this.role = Role.Unknown;
    this.blocks = 0;
    this.count = 0;
  }

  // Before each block: opens the turn of `role` (closing the other side's) or adds a comma.
  block(role: Role): void {
    const out = this.out;
    if (role != this.role) {
      if (this.role != Role.Unknown) { out.text(TURN_END); out.byte(COMMA); }
      out.text(role == Role.Assistant ? ASSISTANT_TURN : USER_TURN);
      this.role = role;
      this.blocks = 0;
      this.count++;
    } else if (this.blocks > 0) {
      out.byte(COMMA);
    }
    this.blocks++;
  }

  end(): void {
    if (this.role != Role.Unknown) this.out.text(TURN_END);
  }
}
const turns = new Turns();

// Where a refused field is (built only when a request is refused: a translated request allocates no string).
function field(index: i32, rest: string): string { return listField("messages", index, rest); }
function partField(index: i32, partIndex: i32, rest: string): string { return field(index, ".content[" + partIndex.toString() + "]" + rest); }

function writeUserContent(t: Tape, m: i32, index: i32, target: Target, out: ByteWriter, err: TranslationError): bool {
  const content = t.member(m, CONTENT);
  if (t.isString(content)) {
    if (t.size(content) > 0) { turns.block(Role.User); writeTextBlock(out, t.start(content), t.size(content)); }
    return true;
  }
  if (!t.isArray(content)) return invalid(err, field(index, ".content"), "must be a string or an array of content parts");
  let partIndex = 0;
  for (let part = t.firstItem(content); part >= 0; part = t.nextItem(content, part), partIndex++) {
    const type = t.member(part, TYPE);
    if (t.equals(type, TEXT)) {
      const text = t.member(part, TEXT);
      if (!t.isString(text)) return invalid(err, field(index, ".content[" + partIndex.toString() + "].text"), "must be a string");
      if (t.size(text) > 0) { turns.block(Role.User); writeTextBlock(out, t.start(text), t.size(text)); }
    } else if (t.equals(type, IMAGE_URL)) {
      if (!writeImage(t, part, index, partIndex, target, out, err)) return false;
    } else if (t.equals(type, FILE)) {
      if (!writeFile(t, part, index, partIndex, target, out, err)) return false;
    } else if (t.equals(type, INPUT_AUDIO)) {
      return refuse(err, target, field(index, ".content[" + partIndex.toString() + "]"), "is audio input");
    } else {
      return invalid(err, field(index, ".content[" + partIndex.toString() + "].type"), "must be text, image_url, file or input_audio");
    }
  }
  return true;
}

function writeImage(t: Tape, part: i32, index: i32, partIndex: i32, target: Target, out: ByteWriter, err: TranslationError): bool {
  let image = t.member(part, IMAGE_URL);
  const url = t.isObject(image) ? t.member(image, URL) : image; // some clients send the URL itself
  if (!plainValue(t, url) || valueSize == 0) return invalid(err, partField(index, partIndex, ".image_url.url"), "must be a URL");
  if (parseDataUrl(valueStart, valueSize)) {
    if (!isAnthropicImageType(mediaStart, mediaSize)) {
      return refuse(err, target, partField(index, partIndex, ".image_url.url"), "is not a JPEG, PNG, GIF or WebP image");
    }
    turns.block(Role.User);
    out.text(IMAGE_BASE64_START);
    out.bytes(mediaStart, mediaSize);
    out.text(BASE64_DATA);
    out.escaped(base64Start, base64Size);
    out.text(SOURCE_END);
    return true;
  }
  if (startsWith(valueStart, valueSize, DATA_SCHEME)) return invalid(err, partField(index, partIndex, ".image_url.url"), "is a data URL that is not base64");
  turns.block(Role.User);
  out.text(IMAGE_URL_START);
  out.escaped(valueStart, valueSize);
  out.text(SOURCE_END);
  return true;
}

function writeFile(t: Tape, part: i32, index: i32, partIndex: i32, target: Target, out: ByteWriter, err: TranslationError): bool {
  const file = t.member(part, FILE);
  if (!t.isAbsent(t.member(file, FILE_ID))) return refuse(err, target, partField(index, partIndex, ".file.file_id"), "names a file uploaded to OpenAI");
  if (!plainValue(t, t.member(file, FILE_DATA)) || !parseDataUrl(valueStart, valueSize)) {
    return invalid(err, partField(index, partIndex, ".file.file_data"), "must be a base64 data URL");
  }
  if (mediaSize != <usize>APPLICATION_PDF.byteLength || memory.compare(mediaStart, changetype<usize>(APPLICATION_PDF), mediaSize) != 0) {
    return refuse(err, target, partField(index, partIndex, ".file.file_data"), "is not a PDF document");
  }
  turns.block(Role.User);
  out.text(DOCUMENT_BASE64_START);
  out.bytes(mediaStart, mediaSize);
  out.text(BASE64_DATA);
  out.escaped(base64Start, base64Size);
  out.text(SOURCE_END);
  return true;
}

function writeAssistant(t: Tape, m: i32, index: i32, target: Target, out: ByteWriter, err: TranslationError): bool {
  if (!t.isAbsent(t.member(m, FUNCTION_CALL))) return refuse(err, target, field(index, ".function_call"), "is the deprecated form of tool_calls");
  if (!t.isAbsent(t.member(m, AUDIO))) return refuse(err, target, field(index, ".audio"), "refers to an earlier audio answer");
  const content = t.member(m, CONTENT);
  if (t.isString(content)) {
    if (t.size(content) > 0) { turns.block(Role.Assistant); writeTextBlock(out, t.start(content), t.size(content)); }
  } else if (t.isArray(content)) {
    let partIndex = 0;
    for (let part = t.firstItem(content); part >= 0; part = t.nextItem(content, part), partIndex++) {
      const type = t.member(part, TYPE);
      const text = t.member(part, t.equals(type, REFUSAL) ? REFUSAL : TEXT);
      if (!(t.equals(type, TEXT) || t.equals(type, REFUSAL)) || !t.isString(text)) {
        return invalid(err, field(index, ".content[" + partIndex.toString() + "]"), "must be a text or refusal part");
      }
      if (t.size(text) > 0) { turns.block(Role.Assistant); writeTextBlock(out, t.start(text), t.size(text)); }
    }
  } else if (!t.isAbsent(content)) {
    return invalid(err, field(index, ".content"), "must be a string, an array of text parts or null");
  }
  const calls = t.member(m, TOOL_CALLS);
  if (t.isAbsent(calls)) return true;
  if (!t.isArray(calls)) return invalid(err, field(index, ".tool_calls"), "must be an array");
  let callIndex = 0;
  for (let call = t.firstItem(calls); call >= 0; call = t.nextItem(calls, call), callIndex++) {
    const id = t.member(call, ID);
    const fn = t.member(call, FUNCTION);
    const name = t.member(fn, NAME);
    if (!t.isString(id) || !t.isString(name)) return invalid(err, field(index, ".tool_calls[" + callIndex.toString() + "]"), "needs an id and a function name");
    turns.block(Role.Assistant);
    out.text(TOOL_USE_START);
    out.quoted(t.start(id), t.size(id));
    out.text(NAME_MEMBER);
    out.quoted(t.start(name), t.size(name));
    out.text(INPUT_MEMBER);
    if (!writeArguments(t, t.member(fn, ARGUMENTS), out)) {
      return err.set(400, "invalid_tool_arguments", "`" + field(index, ".tool_calls[" + callIndex.toString() + "].function.arguments") + "` is not a JSON object: model " + target.name + " is an Anthropic model, whose tool_use input must be one");
    }
    out.byte(CLOSE_BRACE);
  }
  return true;
}

// A tool call's `arguments` (a string holding JSON) as the JSON object itself; an empty or absent
// string is {}. False when the string does not hold a JSON object.
function writeArguments(t: Tape, args: i32, out: ByteWriter): bool {
  if (t.isAbsent(args)) { out.text(EMPTY_OBJECT); return true; }
  if (!plainValue(t, args)) return false;
  let p = valueStart, n = valueSize;
  while (n > 0 && isBlank(load<u8>(p))) { p++; n--; }
  if (n == 0) { out.text(EMPTY_OBJECT); return true; }
  if (!argumentsTape.parse(p, n) || !argumentsTape.isObject(0)) return false;
  out.bytes(argumentsTape.start(0), argumentsTape.size(0));
  return true;
}

@inline function isBlank(c: u32): bool { return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09; }

function writeToolResult(t: Tape, m: i32, index: i32, out: ByteWriter, err: TranslationError): bool {
  const id = t.member(m, TOOL_CALL_ID);
  if (!t.isString(id)) return invalid(err, field(index, ".tool_call_id"), "must be the id of the tool call answered");
  const content = t.member(m, CONTENT);
  turns.block(Role.User);
  out.text(TOOL_RESULT_START);
  out.quoted(t.start(id), t.size(id));
  if (t.isString(content)) {
    if (t.size(content) > 0) { out.text(CONTENT_MEMBER); out.quoted(t.start(content), t.size(content)); }
  } else if (t.isArray(content)) {
    const mark = out.length;
    out.text(CONTENT_MEMBER);
    out.byte(0x5b);
    let count = 0;
    let partIndex = 0;
    for (let part = t.firstItem(content); part >= 0; part = t.nextItem(content, part), partIndex++) {
      const text = t.member(part, TEXT);
      if (!t.equals(t.member(part, TYPE), TEXT) || !t.isString(text)) {
        return invalid(err, field(index, ".content[" + partIndex.toString() + "]"), "of a tool message must be a text part");
      }
      if (t.size(text) == 0) continue;
      if (count++ > 0) out.byte(COMMA);
      writeTextBlock(out, t.start(text), t.size(text));
    }
    if (count == 0) out.truncate(mark);
    else out.byte(CLOSE_BRACKET);
  } else if (!t.isAbsent(content)) {
    return invalid(err, field(index, ".content"), "must be a string or an array of text parts");
  }
  out.byte(CLOSE_BRACE);
  return true;
}

// ---- response and stream pieces -------------------------------------------------------------------

const ID = utf8("id");
const MODEL = utf8("model");
const ERROR = utf8("error");
const MESSAGE = utf8("message");
const TOOL_USE = utf8("tool_use");
const INPUT = utf8("input");
const STOP_REASON = utf8("stop_reason");
const USAGE = utf8("usage");
const INPUT_TOKENS = utf8("input_tokens");
const OUTPUT_TOKENS = utf8("output_tokens");
const CACHE_READ = utf8("cache_read_input_tokens");
const CACHE_CREATION = utf8("cache_creation_input_tokens");
const DELTA = utf8("delta");
const CONTENT_BLOCK = utf8("content_block");
const TEXT_DELTA = utf8("text_delta");
const INPUT_JSON_DELTA = utf8("input_json_delta");
const PARTIAL_JSON = utf8("partial_json");
const MESSAGE_START_EVENT = utf8("message_start");
const MESSAGE_DELTA = utf8("message_delta");
const MESSAGE_STOP = utf8("message_stop");
const CONTENT_BLOCK_START = utf8("content_block_start");
const CONTENT_BLOCK_DELTA = utf8("content_block_delta");
const EMPTY = utf8("");
const NULL = utf8("null");

const COMPLETION_ID = utf8("{\"id\":");
const COMPLETION_OBJECT = utf8(",\"object\":\"chat.completion\",\"created\":");
const MODEL_MEMBER = utf8(",\"model\":");
const MESSAGE_START = utf8(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"");
const TOOL_CALLS_START = utf8(",\"tool_calls\":[{\"id\":");
const TOOL_CALL_NEXT = utf8(",{\"id\":");
const FUNCTION_NAME = utf8(",\"type\":\"function\",\"function\":{\"name\":");
const ARGUMENTS_MEMBER = utf8(",\"arguments\":\"");
const ESCAPED_EMPTY_OBJECT = utf8("{}");
const TOOL_CALL_END = utf8("\"}}");
const MESSAGE_END = utf8(",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"");
const USAGE_START = utf8("\"}],\"usage\":");

const CHUNK_ID = utf8("data: {\"id\":");
const CHUNK_OBJECT = utf8(",\"object\":\"chat.completion.chunk\",\"created\":");
const CHOICES_START = utf8(",\"choices\":[");
const CHOICE_START = utf8("{\"index\":0,\"delta\":");
const LOGPROBS_FINISH = utf8(",\"logprobs\":null,\"finish_reason\":");
const CHUNK_END = utf8("}]}\n\n");
const ROLE_DELTA = utf8("{\"role\":\"assistant\",\"content\":\"\"}");
const EMPTY_DELTA = utf8("{}");
const CONTENT_DELTA_START = utf8("{\"index\":0,\"delta\":{\"content\":\"");
const CONTENT_DELTA_END = utf8("\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
const TOOL_DELTA_START = utf8("{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":");
const TOOL_DELTA_ID = utf8(",\"id\":");
const TOOL_DELTA_NAME = utf8(",\"type\":\"function\",\"function\":{\"name\":");
const TOOL_DELTA_FIRST_END = utf8(",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
const TOOL_DELTA_ARGUMENTS = utf8(",\"function\":{\"arguments\":\"");
const TOOL_DELTA_END = utf8("\"}}]},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
const USAGE_CHUNK_START = utf8("],\"usage\":");

const FINISH_STOP = utf8("stop");
const FINISH_LENGTH = utf8("length");
const FINISH_TOOL_CALLS = utf8("tool_calls");
const FINISH_CONTENT_FILTER = utf8("content_filter");
const STOP_REASONS: StaticArray<ArrayBuffer> = [
  utf8("end_turn"), utf8("stop_sequence"), utf8("pause_turn"), utf8("max_tokens"), utf8("model_context_window_exceeded"),
  utf8("tool_use"), utf8("refusal"),
];
const FINISH_OF: StaticArray<ArrayBuffer> = [
  FINISH_STOP, FINISH_STOP, FINISH_STOP, FINISH_LENGTH, FINISH_LENGTH, FINISH_TOOL_CALLS, FINISH_CONTENT_FILTER,
];

// Anthropic's stop_reason as a chat completions finish_reason (a reason added later reads as stop).
function finishReasonOf(t: Tape, reason: i32): ArrayBuffer {
  if (!t.isString(reason)) return FINISH_STOP;
  const i = nameIndex(t, reason, STOP_REASONS);
  return i < 0 ? FINISH_STOP : unchecked(FINISH_OF[i]);
}

// A string member as a JSON string (escapes kept), or `fallback` when it is not one.
function writeStringOr(out: ByteWriter, t: Tape, v: i32, fallback: ArrayBuffer): void {
  if (t.isString(v)) out.quoted(t.start(v), t.size(v));
  else out.quoted(changetype<usize>(fallback), <usize>fallback.byteLength);
}

const USAGE_PROMPT = utf8("{\"prompt_tokens\":");
const USAGE_COMPLETION = utf8(",\"completion_tokens\":");
const USAGE_TOTAL = utf8(",\"total_tokens\":");
const USAGE_CACHED = utf8(",\"prompt_tokens_details\":{\"cached_tokens\":");
const USAGE_END = utf8("}}");

// Chat completions usage: prompt tokens count every input token, cached ones included.
function writeChatUsage(out: ByteWriter, prompt: i64, completion: i64, cached: i64): void {
  out.text(USAGE_PROMPT);
  out.uint(<u64>prompt);
  out.text(USAGE_COMPLETION);
  out.uint(<u64>completion);
  out.text(USAGE_TOTAL);
  out.uint(<u64>(prompt + completion));
  out.text(USAGE_CACHED);
  out.uint(<u64>cached);
  out.text(USAGE_END);
}
