// Writes the schemas the translation tests validate against: the part of each provider's published
// OpenAPI document that its chat / messages endpoint reaches (the named roots and every schema they
// reference), as one JSON Schema file per API with the roots under $defs.
//   node test/golden/translation/schemas/extract.mjs <openai openapi.json> <anthropic openapi.json>
// Sources (see ../README.md): openai/openai-openapi openapi.json, and Anthropic's OpenAPI document
// as mirrored in tryAGI/Anthropic src/libs/Anthropic/openapi.yaml (JSON text).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const [openaiPath, anthropicPath, openaiSource = "", anthropicSource = ""] = process.argv.slice(2);
if (!openaiPath || !anthropicPath) {
  console.error("usage: node extract.mjs <openai openapi.json> <anthropic openapi.json> [openai source] [anthropic source]");
  process.exit(2);
}

// OpenAPI 3.0's `nullable: true` (which the OpenAI document still uses) as plain JSON Schema: null is
// one more accepted value.
function withoutNullable(v) {
  if (Array.isArray(v)) return v.map(withoutNullable);
  if (v === null || typeof v !== "object") return v;
  const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === "properties" || k === "$defs" ? Object.fromEntries(Object.entries(x).map(([n, s]) => [n, withoutNullable(s)])) : withoutNullable(x)]));
  if (o.nullable !== true) { delete o.nullable; return o; }
  delete o.nullable;
  if (typeof o.type === "string") {
    o.type = [o.type, "null"];
    if (Array.isArray(o.enum) && !o.enum.includes(null)) o.enum = [...o.enum, null];
    return o;
  }
  const { description, title, default: dflt, ...rest } = o;
  return { ...(description !== undefined ? { description } : {}), ...(title !== undefined ? { title } : {}), ...(dflt !== undefined ? { default: dflt } : {}), anyOf: [rest, { type: "null" }] };
}

function extract(path, roots, source, out) {
  const spec = JSON.parse(readFileSync(path, "utf8"));
  const all = spec.components.schemas;
  const kept = {};
  const todo = [...roots];
  while (todo.length) {
    const name = todo.pop();
    if (kept[name] !== undefined) continue;
    if (all[name] === undefined) throw new Error(`${path}: no schema ${name}`);
    kept[name] = withoutNullable(all[name]);
    JSON.stringify(all[name]).replace(/#\/components\/schemas\/([A-Za-z0-9_.-]+)/g, (_m, ref) => { todo.push(ref); return ""; });
  }
  const text = JSON.stringify({ $comment: `extracted from ${source || path} (openapi ${spec.openapi}, info.version ${spec.info?.version ?? "-"}) by extract.mjs; roots: ${roots.join(", ")}`, $defs: Object.fromEntries(Object.keys(kept).sort().map((k) => [k, kept[k]])) }, null, 1)
    .replaceAll("#/components/schemas/", "#/$defs/");
  writeFileSync(join(HERE, out), text + "\n");
  console.log(`${out}: ${Object.keys(kept).length} schemas, ${text.length} bytes`);
}

extract(openaiPath, ["CreateChatCompletionRequest", "CreateChatCompletionResponse", "CreateChatCompletionStreamResponse", "ErrorResponse"], openaiSource, "openai-chat.schema.json");
extract(anthropicPath, ["CreateMessageParams", "Message", "MessageStreamEvent", "ErrorResponse"], anthropicSource, "anthropic-messages.schema.json");
