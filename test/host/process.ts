// One emulated Envoy process: the clock, shared data and queues, the stats store and the VMs of
// its threads. Envoy runs one copy of a Wasm VM per thread that needs one: a "canary" VM per
// plugin on the main thread that is started, configured and thrown away (cpp-host
// WasmHandleBase::canary), the main thread's own VM, and one VM per worker. Every one of them runs
// on_context_create / on_vm_start / on_configure for each plugin; the main thread's VM and every
// worker's VM also tick. start() reproduces that sequence; addWorker() adds just one worker VM.
import { EmulatedClock } from "./clock.ts";
import type { GrpcService } from "./grpc.ts";
import { ProxyWasmHost, type LoadOptions } from "./host.ts";
import { SharedData, SharedQueues } from "./shared-data.ts";
import { StatsStore, type MetricSnapshot, type StatsTag } from "./stats.ts";

export interface ProcessOptions {
  /** Wall clock at start, ns since the epoch (default 2026-01-01T00:00:00Z). */
  startWallNs?: bigint;
  /** stats_config.stats_tags used by prometheus() when none are passed there. */
  statsTags?: StatsTag[];
  /** stats_flush_interval in ms (Envoy default 5000); histograms become visible at a flush. */
  statsFlushIntervalMs?: number;
}

export interface StartOptions extends Omit<LoadOptions, "process"> {
  /** Number of worker threads (--concurrency), default 1. */
  workers?: number;
  /** Start the configuration canary and the main thread's VM as Envoy does (default true). */
  mainThread?: boolean;
}

export class EnvoyProcess {
  readonly clock: EmulatedClock;
  readonly shared = new SharedData();
  readonly queues = new SharedQueues();
  readonly stats = new StatsStore();
  /** gRPC services by cluster name, answering the VMs' proxy_grpc_call (grpc.ts); a cluster
   *  listed here with no service (null) refuses connections. */
  readonly grpcServices = new Map<string, GrpcService | null>();
  readonly statsTags: StatsTag[];
  /** Every VM of the process, in creation order (canaries are dropped once configured). */
  readonly vms: ProxyWasmHost[] = [];
  readonly workers: ProxyWasmHost[] = [];
  mainThread: ProxyWasmHost | null = null;
  /** Every log line of every VM, in the order they were written, with the VM's thread. */
  readonly logs: Array<{ thread: string; canary: boolean; level: number; message: string; contextId: number }> = [];
  private readonly pending: Array<() => void> = [];
  private draining = false;

  constructor(opts: ProcessOptions = {}) {
    this.clock = new EmulatedClock(opts.startWallNs);
    this.statsTags = opts.statsTags ?? [];
    const flushMs = opts.statsFlushIntervalMs ?? 5000;
    const flush = () => {
      this.stats.flush();
      this.clock.schedule(flushMs, flush);
    };
    if (flushMs > 0) this.clock.schedule(flushMs, flush);
  }

  /** Loads one more worker VM (its own instance and module globals) into this process. */
  async addWorker(options: Omit<LoadOptions, "process">): Promise<ProxyWasmHost> {
    const vm = await ProxyWasmHost.load({ ...options, process: this });
    this.workers.push(vm);
    return vm;
  }

  /**
   * Boots like `envoy --concurrency N`: per plugin a canary VM (configured, then discarded) and the
   * main thread's VM, then every worker's VM. Returns the workers.
   */
  async start(options: StartOptions): Promise<ProxyWasmHost[]> {
    const { workers = 1, mainThread = true, ...load } = options;
    if (mainThread) {
      const plugins = ProxyWasmHost.pluginsOf(load);
      const main = await ProxyWasmHost.load({ ...load, process: this, deferPlugins: true, thread: "main" });
      for (const p of plugins) {
        const canary = await ProxyWasmHost.load({ ...load, process: this, deferPlugins: true, thread: "main" });
        canary.canary = true;
        canary.startPlugin(p);
        canary.kill();
        main.startPlugin(p);
      }
      this.mainThread = main;
    }
    const out: ProxyWasmHost[] = [];
    for (let i = 0; i < workers; i++) out.push(await this.addWorker({ ...load, thread: `worker_${i}` }));
    this.drain();
    return out;
  }

  /** Moves the process clock forward, firing ticks (and stats flushes) that fall due. */
  advance(ms: number): void {
    this.clock.advance(ms);
    this.drain();
  }

  /** Steps the wall clock only (NTP step): time reads jump, ticks keep their rhythm. */
  step(ms: number): void {
    this.clock.step(ms);
  }

  /** Work posted to a thread's dispatcher (queue notifications); runs after the current call. */
  post(fn: () => void): void {
    this.pending.push(fn);
  }

  /** Runs posted work; called when a request, a tick or a start finishes. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pending.length) this.pending.shift()!();
    } finally {
      this.draining = false;
    }
  }

  /** Counters, gauges and histogram values by name (without the wasmcustom. prefix). */
  metrics(): MetricSnapshot {
    return this.stats.snapshot();
  }

  /** The wasm stats part of /stats/prometheus (Envoy's output with ?filter=wasmcustom). */
  prometheus(tags?: StatsTag[], opts: { usedOnly?: boolean } = {}): string {
    return this.stats.prometheus(tags ?? this.statsTags, opts);
  }

  /** Keeps the process-wide log bounded (the newest 200000 lines). */
  log(entry: EnvoyProcess["logs"][number]): void {
    if (this.logs.length >= 200_000) this.logs.splice(0, 20_000);
    this.logs.push(entry);
  }

  register(vm: ProxyWasmHost): void {
    this.vms.push(vm);
  }
}
