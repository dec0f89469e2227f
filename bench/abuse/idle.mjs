// Issue 23, item 1: connections that never send a byte. The attacker opens more connections than
// the gateway's limit (default 10,000) and sends nothing (then, second round: asks one keep-alive
// request on each and stays idle); meanwhile a victim opens a new connection every half second and
// asks for the model list. Printed: how many of the attacker's connections the gateway still holds
// over time, what the victim got, Envoy's memory.
import { connect } from "node:net";
import { call, fmtMem, routerConfig, sleep, startGateway, tally } from "./gateway.mjs";

/**
 * Opens `count` connections in batches; with `ask`, each sends one keep-alive request and waits for
 * the answer before idling. Resolves with the sockets and a live count of the open ones.
 */
async function openIdle(port, count, ask) {
  const sockets = [];
  const state = { open: 0, closedByServer: 0, failed: 0, lastClosedAt: 0, leaving: false };
  for (let at = 0; at < count; at += 500) {
    const batch = [];
    for (let i = at; i < Math.min(count, at + 500); i++) {
      batch.push(new Promise((resolve) => {
        const s = connect(port, "127.0.0.1");
        let opened = false;
        s.setTimeout(10_000, () => s.destroy());
        s.on("connect", () => {
          opened = true;
          state.open++;
          if (!ask) {
            s.setTimeout(0);
            resolve();
            return;
          }
          s.write("GET /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n");
          let got = "";
          s.on("data", function answered(d) {
            got += d.toString("latin1");
            const length = /content-length: (\d+)/i.exec(got);
            const end = got.indexOf("\r\n\r\n");
            if (length && end >= 0 && got.length >= end + 4 + Number(length[1])) {
              s.off("data", answered);
              s.setTimeout(0);
              resolve();
            }
          });
        });
        s.on("error", () => {});
        s.on("close", () => {
          if (opened) {
            state.open--;
            if (!state.leaving) {
              state.closedByServer++;
              state.lastClosedAt = Date.now();
            }
          } else state.failed++;
          resolve();
        });
        sockets.push(s);
      }));
    }
    await Promise.all(batch);
  }
  return { sockets, state };
}

async function attack(log, { count, seconds, ask }) {
  const gw = await startGateway(routerConfig());
  const out = { count, seconds, ask };
  try {
    out.memoryBefore = await gw.memory();
    const before = await call(gw.url, { path: "/v1/models" });
    log(`  before: a client gets ${before.status}; ${fmtMem(out.memoryBefore)}`);
    const t0 = Date.now();
    const { sockets, state } = await openIdle(gw.port, count, ask);
    out.openMs = Date.now() - t0;
    log(`  ${count} connections ${ask ? "each asking one keep-alive request, then idle," : "sending nothing"} opened in ${out.openMs} ms: ${state.open} open, ${state.failed} failed to connect`);
    out.timeline = [];
    const victims = [];
    const end = t0 + seconds * 1000;
    let nextMark = t0 + 1000;
    while (Date.now() < end) {
      const r = await call(gw.url, { path: "/v1/models", timeoutMs: 2_000 });
      victims.push({ at: Date.now() - t0, status: r.status, error: r.error });
      if (Date.now() >= nextMark) {
        const active = await gw.stat("^listener\\.[0-9.]+_[0-9]+\\.downstream_(pre_)?cx_active$");
        const point = { s: Math.round((Date.now() - t0) / 1000), attackerOpen: state.open, closedByGateway: state.closedByServer, envoyActive: Object.values(active).reduce((a, b) => a + b, 0) };
        out.timeline.push(point);
        nextMark += point.s < 6 ? 1000 : 4000;
      }
      if (state.open === 0 && victims.slice(-3).every((v) => v.status === 200)) break;
      await sleep(500);
    }
    out.memoryDuring = await gw.memory();
    const served = victims.filter((v) => v.status === 200);
    out.victims = { sent: victims.length, outcomes: tally(victims.map((v) => (v.status ? String(v.status) : v.error ?? "failed"))), firstServedAtMs: served[0]?.at ?? null };
    out.allClosedBySecond = state.open === 0 ? Number(((state.lastClosedAt - t0) / 1000).toFixed(1)) : null;
    for (const p of out.timeline) log(`    t=${p.s}s: attacker connections open ${p.attackerOpen} (closed by the gateway ${p.closedByGateway}), the listener's active connections ${p.envoyActive}`);
    log(`  victims (a new connection every ~0.5 s, GET /v1/models): ${out.victims.outcomes}; first served at ${out.victims.firstServedAtMs ?? "never"} ms`);
    log(`  attacker's connections all closed by the gateway: ${out.allClosedBySecond === null ? `no, ${state.open} still open after ${seconds} s` : `the last at ${out.allClosedBySecond} s`}; ${fmtMem(out.memoryDuring)}`);
    state.leaving = true;
    for (const s of sockets) s.destroy();
    await sleep(500);
    out.memoryAfter = await gw.memory();
    const after = await call(gw.url, { path: "/v1/models" });
    out.afterStatus = after.status;
    log(`  after the attacker leaves: a client gets ${after.status}; ${fmtMem(out.memoryAfter)}`);
  } finally {
    await gw.stop();
  }
  return out;
}

export async function idleScenario({ log, count = 10050, seconds = 15 }) {
  return { silent: await attack(log, { count, seconds, ask: false }), keepAlive: await attack(log, { count, seconds, ask: true }) };
}
