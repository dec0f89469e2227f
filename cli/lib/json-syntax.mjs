// Where a JSON text stops being JSON, as an editor shows it (line and column). JSON.parse names a
// position for some errors and none for others ("Unexpected token ']', "[1,]" is not valid JSON"),
// so the text is walked once more, by the grammar of RFC 8259, to the first byte that breaks it.

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;
// Far deeper than any configuration the plugin accepts (64), shallow enough for the call stack.
const MAX_DEPTH = 512;

class SyntaxAt {
  constructor(offset, message) {
    this.offset = offset;
    this.message = message;
  }
}

/** The first syntax error of `text`: { offset (UTF-16 index), message }, or null for valid JSON. */
export function jsonSyntaxError(text) {
  let i = 0;
  const fail = (message) => {
    throw new SyntaxAt(i, message);
  };
  const found = () => (i < text.length ? JSON.stringify(text[i]) : "the end of the file");
  const skipWhitespace = () => {
    while (i < text.length && WHITESPACE.has(text[i])) i++;
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text[i];
      if (c === '"') break;
      if (c.charCodeAt(0) < 0x20) fail("a control character inside a string (write it as an escape, e.g. \\n)");
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          HEX4.lastIndex = i + 1;
          if (!HEX4.test(text)) fail("\\u must be followed by four hex digits");
          i += 4;
        } else if (!ESCAPES.has(text[i])) fail(`invalid escape \\${text[i] ?? ""}`);
      }
      i++;
    }
    i++;
  };
  const value = (depth) => {
    skipWhitespace();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
      const close = c === "{" ? "}" : "]";
      i++;
      skipWhitespace();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          skipWhitespace();
          if (text[i] !== '"') fail(`expected a member name in double quotes, found ${found()}`);
          string();
          skipWhitespace();
          if (text[i] !== ":") fail(`expected ':' after the member name, found ${found()}`);
          i++;
        }
        value(depth + 1);
        skipWhitespace();
        if (text[i] === close) break;
        if (text[i] !== ",") fail(`expected ',' or '${close}', found ${found()}`);
        i++;
        skipWhitespace();
        if (text[i] === close) fail(`a comma before '${close}' (JSON allows no trailing comma)`);
      }
      i++;
    } else if (c === '"') string();
    else if (c === "-" || (c >= "0" && c <= "9")) {
      NUMBER.lastIndex = i;
      if (!NUMBER.test(text)) fail("invalid number");
      i = NUMBER.lastIndex;
    } else {
      const word = ["true", "false", "null"].find((w) => text.startsWith(w, i));
      if (!word) fail(`expected a value, found ${found()}`);
      i += word.length;
    }
  };
  try {
    value(0);
    skipWhitespace();
    if (i < text.length) fail(`unexpected ${found()} after the JSON value`);
    return null;
  } catch (err) {
    if (err instanceof SyntaxAt) return { offset: err.offset, message: err.message };
    throw err;
  }
}

/** 1-based line and column (in characters) of a UTF-16 offset. */
export function lineColumn(text, offset) {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf("\n") + 1;
  return { line: before.split("\n").length, column: [...before.slice(lineStart)].length + 1 };
}
