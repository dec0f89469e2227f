// JSON Schema validators for the translation tests: each provider's published schema of its chat /
// messages endpoint (extracted by extract.mjs), compiled with ajv (the dev dependency) for JSON
// Schema 2020-12, which OpenAPI 3.1 documents use.
import Ajv2020 from "ajv/dist/2020.js";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));

let ajv = null;
function instance() {
  if (ajv) return ajv;
  // strict off: the documents carry OpenAPI annotations (example, discriminator, x-…) ajv does not know
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  for (const [file, id] of [["openai-chat.schema.json", "openai"], ["anthropic-messages.schema.json", "anthropic"]]) {
    ajv.addSchema({ ...JSON.parse(readFileSync(join(HERE, file), "utf8")), $id: id });
  }
  return ajv;
}

const ROOTS = {
  openaiRequest: "openai#/$defs/CreateChatCompletionRequest",
  openaiResponse: "openai#/$defs/CreateChatCompletionResponse",
  openaiChunk: "openai#/$defs/CreateChatCompletionStreamResponse",
  openaiError: "openai#/$defs/ErrorResponse",
  anthropicRequest: "anthropic#/$defs/CreateMessageParams",
  anthropicResponse: "anthropic#/$defs/Message",
  anthropicEvent: "anthropic#/$defs/MessageStreamEvent",
  anthropicError: "anthropic#/$defs/ErrorResponse",
};

/** Validates `value` against a named root: null when valid, else the first errors as text. */
export function schemaErrors(root, value) {
  const validate = instance().getSchema(ROOTS[root]);
  if (!validate) throw new Error(`no schema ${root}`);
  if (validate(value)) return null;
  return validate.errors.slice(0, 5).map((e) => `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}${e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : ""}`).join("; ");
}
