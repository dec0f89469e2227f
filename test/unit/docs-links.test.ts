// Every relative link in the repository's Markdown resolves: the file (or directory) exists, and a
// `#anchor` names a heading of the target file as GitHub renders it. Documentation moves between
// files (README → docs/, bench/, test/); a link left pointing at the old place fails here, with the
// file and line of the link. Also: the README stays a front page (at most 300 lines).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
// Not ours, or not documentation: dependencies, virtualenvs, build and run outputs, git itself.
const SKIPPED_DIRECTORIES = new Set(["node_modules", "build"]);
const README_MAX_LINES = 300;

function markdownFiles(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || SKIPPED_DIRECTORIES.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) markdownFiles(path, found);
    else if (entry.name.endsWith(".md")) found.push(path);
  }
  return found;
}

const FENCE = /^\s{0,3}(`{3,}|~{3,})/;

// The lines that Markdown renders as text: fenced code blocks blanked (their `#` lines are not
// headings, their brackets not links), line numbers kept.
function proseLines(text: string): string[] {
  let fence = "";
  return text.split("\n").map((line) => {
    const m = FENCE.exec(line);
    if (fence !== "") {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length) fence = "";
      return "";
    }
    if (m) { fence = m[1]; return ""; }
    return line;
  });
}

// Inline code spans hold text, not links.
const withoutCodeSpans = (line: string) => line.replace(/(`+)[\s\S]*?\1/g, "");

// GitHub's heading ids (github-slugger): the rendered text in lower case, every character that is
// not a letter, mark, digit, `_`, `-` or space dropped, spaces turned into `-`; a repeated id gets
// `-1`, `-2` … appended.
function slug(heading: string): string {
  // Odd parts are code spans, whose text renders as written (`<name>` included).
  const text = heading.split(/(`[^`]*`)/).map((part, i) => i % 2 === 1
    ? part.slice(1, -1)
    : part.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "")).join("");
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "").replace(/ /g, "-");
}

function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s[^>]*\b(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

interface Link { line: number; target: string }

function linksOf(text: string): Link[] {
  const links: Link[] = [];
  proseLines(text).forEach((raw, i) => {
    const line = withoutCodeSpans(raw);
    // [text](target) and ![alt](target); the target ends at a space (a title may follow).
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ line: i + 1, target: m[1] });
    // [label]: target
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(line);
    if (definition) links.push({ line: i + 1, target: definition[1] });
    for (const m of line.matchAll(/<(?:a|img)\s[^>]*\b(?:href|src)="([^"]*)"/g)) links.push({ line: i + 1, target: m[1] });
  });
  return links;
}

const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:|\/\/)/i;

// What is wrong with one link of `file` (absolute path), or null. `read` gives a Markdown file's text.
function brokenLink(file: string, target: string, read: (path: string) => string | null): string | null {
  if (target === "" ) return "empty link";
  if (EXTERNAL.test(target)) return null;
  const hash = target.indexOf("#");
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  const dest = pathPart === "" ? file : pathPart.startsWith("/") ? join(ROOT, pathPart) : resolve(dirname(file), pathPart);
  const text = read(dest);
  if (text === null && !existsSync(dest)) return `${relative(ROOT, dest) || "."} does not exist`;
  if (anchor === null || anchor === "") return null;
  if (!dest.endsWith(".md")) return null; // line anchors into source files are GitHub's, not ours
  if (text === null) return `${relative(ROOT, dest)} is not a file`;
  return anchorsOf(text).has(anchor) ? null : `no heading "#${anchor}" in ${relative(ROOT, dest)}`;
}

function readMarkdown(path: string): string | null {
  if (!existsSync(path) || !statSync(path).isFile()) return null;
  return readFileSync(path, "utf8");
}

describe("the link checker itself", () => {
  const file = join(ROOT, "docs", "example.md");
  const texts = new Map<string, string>([
    [file, "# Example\n\n## A provider (`providers.<name>`)\n\n## Failover: the request in flight\n\n## Notes\n\n## Notes\n"],
  ]);
  const read = (p: string) => texts.get(p) ?? readMarkdown(p);

  it("names GitHub's anchors, duplicates numbered", () => {
    expect([...anchorsOf(texts.get(file)!)]).toEqual(["example", "a-provider-providersname", "failover-the-request-in-flight", "notes", "notes-1"]);
    expect(slug("Higress `_rules_`")).toBe("higress-_rules_");
    expect(slug("Observability: which model served route `auto`, at what cost and latency, and why"))
      .toBe("observability-which-model-served-route-auto-at-what-cost-and-latency-and-why");
    expect(slug("与 Higress AI 路由配合")).toBe("与-higress-ai-路由配合");
  });

  it("finds links outside code only", () => {
    const text = "See [a](a.md), ![b](b.png \"t\") and `[c](c.md)`.\n```\n[d](d.md)\n# not a heading\n```\n[e]: e.md\n<a href=\"f.md\">f</a>\n";
    expect(linksOf(text).map((l) => `${l.line}:${l.target}`)).toEqual(["1:a.md", "1:b.png", "6:e.md", "7:f.md"]);
    expect(anchorsOf(text).has("not-a-heading")).toBe(false);
  });

  it("reports a missing file and a missing anchor, accepts the rest", () => {
    expect(brokenLink(file, "nowhere.md", read)).toBe("docs/nowhere.md does not exist");
    expect(brokenLink(file, "#notes-2", read)).toBe('no heading "#notes-2" in docs/example.md');
    expect(brokenLink(file, "#notes-1", read)).toBeNull();
    expect(brokenLink(file, "../config/router.json", read)).toBeNull();
    expect(brokenLink(file, "../assembly/", read)).toBeNull();
    expect(brokenLink(file, "https://example.com/x.md#y", read)).toBeNull();
  });
});

describe("the repository's Markdown", () => {
  const files = markdownFiles(ROOT);

  it("is found (README, docs/, bench/, test/)", () => {
    const names = files.map((f) => relative(ROOT, f));
    for (const expected of ["README.md", "CONTRIBUTING.md", "docs/configuration.md", "docs/behaviour.md", "bench/README.md", "test/README.md"]) {
      expect(names).toContain(expected);
    }
  });

  it("has no broken relative link or anchor", () => {
    const broken: string[] = [];
    for (const file of files) {
      for (const link of linksOf(readFileSync(file, "utf8"))) {
        const problem = brokenLink(file, link.target, readMarkdown);
        if (problem !== null) broken.push(`${relative(ROOT, file)}:${link.line}: (${link.target}) ${problem}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it(`keeps README.md a front page (at most ${README_MAX_LINES} lines: the rest belongs in docs/)`, () => {
    const lines = readFileSync(join(ROOT, "README.md"), "utf8").trimEnd().split("\n").length;
    expect(lines).toBeLessThanOrEqual(README_MAX_LINES);
  });
});
