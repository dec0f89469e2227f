// The conversations bench/affinity.mjs replays turn by turn.
//
// Agent trace: public data, installed at run time (bench/lib/pypi-data.mjs; nothing committed).
//   bfcl-eval 2026.3.23 (Berkeley Function Calling Leaderboard, UC Berkeley Sky Computing Lab,
//   Apache-2.0): bfcl_eval/data/BFCL_v4_multi_turn_base.json, multi-turn tasks: user turns, each
//   answered by a sequence of calls to the task's tools; the calls are in
//   possible_answer/BFCL_v4_multi_turn_base.json, the tools' definitions in multi_turn_func_doc/.
//   A task becomes one conversation: a fixed agent system prompt (written here), the task's tools
//   as OpenAI `tools`, and per user turn one request per ground-truth call (the client forces that
//   call with tool_choice, the mock answers with a call to it, the client appends that answer and a
//   tool result) and one request for the final answer. The tool results are generated (the BFCL
//   simulators are not run): a deterministic JSON object, 60 to 600 bytes of output per call by
//   default (bench/affinity.mjs --tool-bytes).
// Chat trace: generated (no multi-turn chat data with a clear licence ships in a package reachable
//   here: fschat's wheel has no MT-Bench files, ShareGPT's provenance is unclear): a product
//   assistant's system prompt of about 1,600 tokens and six user turns of 200 to 800 bytes of
//   English prose each (bench/lib/bodies.mjs), every turn carrying the history with the mock's answers.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mulberry32, prose } from "../lib/bodies.mjs";
import { ensurePackageFiles } from "../lib/pypi-data.mjs";

export const PACKAGE = "bfcl-eval==2026.3.23";
const DATA = "bfcl_eval/data/";
const QUESTIONS = `${DATA}BFCL_v4_multi_turn_base.json`;
const ANSWERS = `${DATA}possible_answer/BFCL_v4_multi_turn_base.json`;
// BFCL's class names and the files documenting their functions
const DOCS = {
  GorillaFileSystem: "gorilla_file_system", MathAPI: "math_api", MessageAPI: "message_api", TwitterAPI: "posting_api",
  TicketAPI: "ticket_api", TradingBot: "trading_bot", TravelAPI: "travel_booking", VehicleControlAPI: "vehicle_control",
};
const docFile = (cls) => `${DATA}multi_turn_func_doc/${DOCS[cls]}.json`;

export const AGENT_SYSTEM = [
  "You are an autonomous agent operating on behalf of the user through the tools provided.",
  "Work step by step: call exactly one tool at a time, read its result, then decide the next call.",
  "Never invent file names, ids or values: obtain them with a tool first. Prefer the fewest calls.",
  "When the user's request is complete, answer briefly with what you did and what you found.",
].join("\n");

// BFCL's parameter schemas use Python type names; OpenAI tools take JSON Schema.
const TYPES = { dict: "object", float: "number", tuple: "array", any: undefined };
function jsonSchema(v) {
  if (Array.isArray(v)) return v.map(jsonSchema);
  if (v === null || typeof v !== "object") return v;
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "type" && typeof x === "string" && x in TYPES) { if (TYPES[x]) out.type = TYPES[x]; continue; }
    out[k] = jsonSchema(x);
  }
  return out;
}

const jsonLines = (file) => readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));

/** A generated tool result for one call: deterministic, about [min, max) bytes of output. */
function toolResult(call, seed, [min, max]) {
  const rnd = mulberry32(seed);
  const bytes = min + Math.floor(rnd() * (max - min));
  return JSON.stringify({ status: "ok", call, output: prose(rnd, bytes).slice(0, bytes) });
}

/**
 * The agent trace: `tasks` BFCL tasks, each {id, tools, turns: [{user, calls: [{name, text, result}]}]},
 * tool results of `resultBytes` [min, max) bytes. Downloads the package on first use.
 */
export function agentTasks(tasks, resultBytes = [60, 600], log) {
  const files = ensurePackageFiles([PACKAGE], () => [QUESTIONS, ANSWERS, ...Object.keys(DOCS).map(docFile)], log);
  const dir = join(files, "bfcl-eval");
  const answers = new Map(jsonLines(join(dir, ANSWERS)).map((a) => [a.id, a.ground_truth]));
  const docs = new Map();
  const toolsOf = (cls) => {
    if (!docs.has(cls)) docs.set(cls, jsonLines(join(dir, docFile(cls))).map((f) => ({ type: "function", function: { name: f.name, description: f.description, parameters: jsonSchema(f.parameters) } })));
    return docs.get(cls);
  };
  return jsonLines(join(dir, QUESTIONS)).slice(0, tasks).map((q, t) => {
    const truth = answers.get(q.id) ?? [];
    return {
      id: q.id,
      tools: q.involved_classes.flatMap(toolsOf),
      turns: q.question.map((messages, i) => ({
        user: messages.map((m) => m.content).join("\n"),
        calls: (truth[i] ?? []).map((c, k) => ({ name: /^([A-Za-z_][\w.]*)\(/.exec(c)?.[1] ?? "", text: c, result: toolResult(c, 1000 * t + 10 * i + k, resultBytes) })),
      })),
    };
  });
}

/** The chat trace: `conversations` generated conversations of `turns` user turns under one system prompt. */
export function chatConversations(conversations, turns = 6) {
  const system = "You are the support assistant of a software company. Follow this policy.\n" + prose(mulberry32(7), 6400);
  return Array.from({ length: conversations }, (_, c) => {
    const rnd = mulberry32(100 + c);
    return { id: `chat_${c}`, system, turns: Array.from({ length: turns }, () => prose(rnd, 200 + Math.floor(rnd() * 600))) };
  });
}
