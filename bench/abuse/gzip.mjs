// Issue 23, item 3: decompression. A gzip body of about 1 MB that inflates to about 1 GB (one, then
// 96 at once, while a victim keeps asking), and the other way round: a valid 9 MB JSON body gzipped
// about 1000:1, within maxBodyBytes once inflated. Printed: what each got, how many bytes Envoy
// inflated, Envoy's RSS and heap before, during and after.
import { createGzip, gzipSync } from "node:zlib";
import { call, chat, errorCode, fmtMem, routerConfig, sleep, startGateway, tally } from "./gateway.mjs";

const HEAD = '{"model":"auto","messages":[{"role":"user","content":"';
// The valid body names a catalog model whose context window holds its 2.4M estimated tokens.
const LONG = { name: "long-context", upstream: "groq", price: { input: 0.1, output: 0.2 }, ttftMs: 300, tokensPerSecond: 100, contextWindow: 4_000_000 };
const TAIL = '"}],"max_tokens":8}';

/** gzip of a chat body whose content is `bytes` letters (streamed: the raw body never exists). */
function gzipOfChat(bytes) {
  return new Promise((resolve) => {
    const z = createGzip({ level: 9 });
    const out = [];
    z.on("data", (c) => out.push(c));
    z.on("end", () => resolve(Buffer.concat(out)));
    z.write(HEAD);
    const piece = Buffer.alloc(1024 * 1024, 0x61);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, piece.length);
        left -= n;
        if (!z.write(n === piece.length ? piece : piece.subarray(0, n))) return z.once("drain", pump);
      }
      z.end(TAIL);
    };
    pump();
  });
}

const post = (gw, body, timeoutMs = 20_000) =>
  call(gw.url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body, timeoutMs });

const INFLATED = "decompressor\\.gzip\\.gzip\\.request\\.total_uncompressed_bytes|decompressor\\.gzip\\.gzip\\.decompressor_library\\.zlib_data_error";
const inflated = async (gw) => Object.values(await gw.stat("total_uncompressed_bytes"))[0] ?? 0;

export async function gzipScenario({ log, bombs = 96 }) {
  const out = {};
  const bomb = await gzipOfChat(1024 * 1024 * 1024);
  const valid = gzipSync(Buffer.from(HEAD.replace('"auto"', `"${LONG.name}"`) + "a".repeat(9 * 1024 * 1024) + TAIL), { level: 9 });
  log(`  bomb: ${bomb.length} bytes of gzip inflating to ${1024 ** 3 + HEAD.length + TAIL.length} bytes; valid body: ${9 * 1024 * 1024 + HEAD.length + TAIL.length} bytes of JSON as ${valid.length} bytes of gzip (${Math.round((9 * 1024 * 1024) / valid.length)}:1)`);
  const config = routerConfig();
  config.models.push(LONG);
  const gw = await startGateway(config);
  try {
    const before = await gw.memory();
    const inflatedBefore = await inflated(gw);
    const one = await post(gw, bomb);
    await sleep(300);
    const afterOne = await gw.memory();
    const inflatedOne = (await inflated(gw)) - inflatedBefore;
    out.one = { status: one.status, code: errorCode(one), inflatedBytes: inflatedOne, before, after: afterOne };
    log(`  one bomb: ${one.status} ${errorCode(one)}; Envoy inflated ${inflatedOne} bytes; before: ${fmtMem(before)}; after: ${fmtMem(afterOne)}`);

    const t0 = Date.now();
    const victims = [];
    let peak = afterOne;
    let running = true;
    const sampler = (async () => {
      while (running) {
        const m = await gw.memory();
        if (m.rss > peak.rss) peak = m;
        await sleep(100);
      }
    })();
    const victim = (async () => {
      while (running) {
        const v = await call(gw.url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: chat("fast"), timeoutMs: 5_000 });
        victims.push(v.status === 200 ? "200" : v.status ? `${v.status} ${errorCode(v)}` : v.error ?? "failed");
        await sleep(100);
      }
    })();
    const inflatedMany0 = await inflated(gw);
    const answers = await Promise.all(Array.from({ length: bombs }, () => post(gw, bomb, 60_000)));
    running = false;
    await Promise.all([sampler, victim]);
    const manyMs = Date.now() - t0;
    const inflatedMany = (await inflated(gw)) - inflatedMany0;
    const settled = [];
    for (let i = 0; i < 5; i++) {
      await sleep(1000);
      settled.push(await gw.memory());
    }
    const afterMany = settled[settled.length - 1];
    out.many = {
      bombs,
      ms: manyMs,
      answers: tally(answers.map((a) => (a.status ? `${a.status} ${errorCode(a)}`.trim() : `no answer (${a.error})`))),
      inflatedBytes: inflatedMany,
      peak,
      after: afterMany,
      rssAfterSecondsMb: settled.map((m) => Math.round(m.rss / 1048576)),
      victims: tally(victims),
    };
    log(`  ${bombs} bombs at once (${manyMs} ms): ${out.many.answers}; Envoy inflated ${inflatedMany} bytes`);
    log(`    peak: ${fmtMem(peak)}; RSS 1..5 s after: ${out.many.rssAfterSecondsMb.join(", ")} MB; 5 s after: ${fmtMem(afterMany)}`);
    log(`    victims meanwhile: ${out.many.victims}`);

    const sent = gw.mocks.openai.requests.length + gw.mocks.deepseek.requests.length + gw.mocks.groq.requests.length;
    const v = await post(gw, valid);
    const reached = gw.mocks.openai.requests.length + gw.mocks.deepseek.requests.length + gw.mocks.groq.requests.length - sent;
    const zlibErrors = await gw.stat(INFLATED);
    out.valid = { status: v.status, code: errorCode(v), message: v.status === 200 ? "" : JSON.parse(v.text || "{}").error?.message ?? v.text.slice(0, 200), reachedProvider: reached > 0, compressedBytes: valid.length };
    log(`  valid 9 MB body gzipped ${Math.round((9 * 1024 * 1024) / valid.length)}:1: ${v.status} ${out.valid.code}${out.valid.message ? ` "${out.valid.message}"` : ""}; reached a provider: ${out.valid.reachedProvider ? "yes" : "no"}`);
    log(`  Envoy's zlib counters: ${Object.entries(zlibErrors).map(([k, n]) => `${k.replace(/^.*decompressor\./, "")} ${n}`).join(", ")}`);
    out.envoyAlive = gw.alive();
  } finally {
    await gw.stop();
  }
  return out;
}
