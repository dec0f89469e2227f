// Command-line parsing for llm-router: flags with values, repeated flags, one positional CONFIG.

export class UsageError extends Error {}

/**
 * @param {string[]} argv
 * @param {Record<string, "value" | "flag" | "list">} spec flag name (with dashes) -> kind
 */
export function parseArgs(argv, spec) {
  const out = { positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-") || arg === "-") {
      out.positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option ${name}`);
    if (kind === "flag") {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      out[name] = true;
      continue;
    }
    let value;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
    }
    if (kind === "list") (out[name] ??= []).push(value);
    else out[name] = value;
  }
  return out;
}

/** "HOST:PORT" (IPv6 as [::1]:PORT) -> { host, port }. */
export function hostPort(text, flag) {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text ?? "");
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag} expects HOST:PORT (e.g. 127.0.0.1:10000), got "${text}"`);
  return { host: m[1] ?? m[2], port };
}

/** "NAME=HOST:PORT[,HOST:PORT...]" -> [name, [{ host, port }]] */
export function namedAddresses(text, flag) {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new UsageError(`${flag} expects PROVIDER=HOST:PORT[,HOST:PORT], got "${text}"`);
  return [text.slice(0, eq), text.slice(eq + 1).split(",").map((a) => hostPort(a, flag))];
}

export function positiveNumber(text, flag) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} expects a positive number, got "${text}"`);
  return n;
}
