// Issue 23, item 2: stalled uploads. The attacker opens 110 requests declaring about 10 MB, sends
// 9 MB of each and pauses (over HTTP/1.1: one connection each; over HTTP/2: one session each);
// meanwhile victims send a small `fast` request every 250 ms on a new connection. Printed: Envoy's
// heap and RSS over time, when and how the stalled uploads ended, what the victims got, the
// overload manager's counters.
import http2 from "node:http2";
import { connect } from "node:net";
import { call, chat, errorCode, fmtMem, mb, routerConfig, sleep, startGateway, tally } from "./gateway.mjs";

const DECLARED = 10 * 1000 * 1000;
const SENT = 9 * 1024 * 1024;
const JSON_HEAD = '{"model":"auto","messages":[{"role":"user","content":"';

function stallHttp1(port, payload) {
  const s = connect(port, "127.0.0.1");
  const upload = { ended: null, at: 0, status: 0 };
  let got = "";
  s.on("data", (d) => {
    got += d.toString("latin1");
    const m = /^HTTP\/1\.1 (\d+)/.exec(got);
    if (m && !upload.status) upload.status = Number(m[1]);
  });
  s.on("error", () => {});
  s.on("close", () => {
    upload.ended ??= upload.status ? String(upload.status) : "reset";
    upload.at = Date.now();
  });
  s.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\ncontent-length: ${DECLARED}\r\n\r\n`);
  s.write(payload);
  return { upload, close: () => { upload.ended ??= "still open"; s.destroy(); } };
}

function stallHttp2(url, payload) {
  const session = http2.connect(url);
  session.on("error", () => {});
  const upload = { ended: null, at: 0, status: 0 };
  const req = session.request({ ":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json", "content-length": String(DECLARED) });
  req.on("response", (h) => (upload.status = Number(h[":status"])));
  req.on("error", () => {});
  req.on("close", () => {
    upload.ended ??= upload.status ? String(upload.status) : `reset (${req.rstCode})`;
    upload.at = Date.now();
  });
  req.resume();
  req.write(payload);
  return { upload, close: () => { upload.ended ??= "still open"; session.destroy(); } };
}

async function attack(gw, protocol, { count, seconds, log }) {
  const payload = Buffer.concat([Buffer.from(JSON_HEAD), Buffer.alloc(SENT - JSON_HEAD.length, 0x61)]);
  const before = await gw.memory();
  const counters = "overload|downstream_rq_(408|503|timeout)|rq_reset_after_downstream|downstream_rq_idle_timeout|downstream_cx_idle_timeout";
  const statsBefore = await gw.stat(counters);
  const t0 = Date.now();
  const attackers = [];
  for (let i = 0; i < count; i++) attackers.push(protocol === "http2" ? stallHttp2(gw.url, payload) : stallHttp1(gw.port, payload));
  const victims = [];
  const samples = [];
  let peak = before;
  const end = t0 + seconds * 1000;
  let nextSample = t0;
  while (Date.now() < end) {
    const r = await call(gw.url, { method: "POST", path: "/v1/chat/completions", headers: { "content-type": "application/json" }, body: chat("fast"), timeoutMs: 5_000 });
    victims.push({ at: Date.now() - t0, outcome: r.status === 200 ? "200" : r.status ? `${r.status} ${errorCode(r)}`.trim() : r.error ?? "failed" });
    if (Date.now() >= nextSample) {
      const m = await gw.memory();
      if (m.allocated > peak.allocated) peak = m;
      const open = attackers.filter((a) => a.upload.ended === null).length;
      samples.push({ s: Number(((Date.now() - t0) / 1000).toFixed(1)), allocatedMb: mb(m.allocated), rssMb: mb(m.rss), stalledOpen: open });
      nextSample += 1000;
    }
    // Done once the victims are served again and have been for 2 s (or every upload ended).
    const settled = victims.length >= 8 && victims.slice(-8).every((v) => v.outcome === "200") && Date.now() - t0 > 6_000;
    if (settled || (attackers.every((a) => a.upload.ended !== null) && victims.slice(-4).every((v) => v.outcome === "200"))) break;
    await sleep(250);
  }
  const ended = attackers.map((a) => a.upload.ended ?? "still open");
  const endedTimes = attackers.filter((a) => a.upload.at).map((a) => (a.upload.at - t0) / 1000);
  for (const a of attackers) a.close();
  await sleep(1000);
  const after = await gw.memory();
  const statsAfter = await gw.stat(counters);
  const delta = Object.fromEntries(Object.entries(statsAfter).map(([k, v]) => [k, v - (statsBefore[k] ?? 0)]).filter(([, v]) => v !== 0));
  const firstRefused = victims.find((v) => v.outcome !== "200");
  const lastRefused = [...victims].reverse().find((v) => v.outcome !== "200");
  const result = {
    protocol,
    count,
    memory: { before, peak, after },
    samples,
    uploads: tally(ended),
    uploadsEndedS: endedTimes.length ? { first: Math.min(...endedTimes), last: Math.max(...endedTimes) } : null,
    victims: tally(victims.map((v) => v.outcome)),
    victimsRefusedFromMs: firstRefused?.at ?? null,
    victimsRefusedUntilMs: lastRefused?.at ?? null,
    counters: delta,
  };
  log(`  ${protocol}: ${count} uploads declaring ${DECLARED} bytes, ${SENT} sent, then silence`);
  for (const s of samples) log(`    t=${s.s}s: heap allocated ${s.allocatedMb} MB, RSS ${s.rssMb} MB, stalled uploads open ${s.stalledOpen}`);
  log(`    memory before: ${fmtMem(before)}; peak: ${fmtMem(peak)}; after: ${fmtMem(after)}`);
  log(`    the stalled uploads ended: ${result.uploads}${result.uploadsEndedS ? ` (from ${result.uploadsEndedS.first.toFixed(1)} s to ${result.uploadsEndedS.last.toFixed(1)} s)` : ""}`);
  log(`    victims meanwhile (fast, a new connection every 250 ms): ${result.victims}` +
    (firstRefused ? `; refused from ${(firstRefused.at / 1000).toFixed(1)} s to ${(lastRefused.at / 1000).toFixed(1)} s` : "; none refused"));
  log(`    Envoy counters: ${Object.entries(delta).map(([k, v]) => `${k} +${v}`).join(", ") || "none"}`);
  return result;
}

export async function uploadsScenario({ log, count = 110, seconds = 20 }) {
  const out = {};
  for (const protocol of ["http1", "http2"]) {
    const gw = await startGateway(routerConfig());
    try {
      out[protocol] = await attack(gw, protocol, { count, seconds, log });
      out[protocol].envoyAlive = gw.alive();
    } finally {
      await gw.stop();
    }
  }
  return out;
}
