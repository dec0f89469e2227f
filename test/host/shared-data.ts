// Process-wide shared data and shared queues, as proxy-wasm-cpp-host src/shared_data.cc and
// src/shared_queue.cc keep them: one store for the whole Envoy process, partitioned by vm_id, so
// every worker's VM (and the main thread's) with the same vm_id sees the same keys.
import { Status } from "./abi.ts";

export interface SharedValue {
  value: Uint8Array;
  cas: number;
}

/**
 * SharedData: vm_id → key → (value, cas). The cas is ONE process-wide counter (starting at 1,
 * skipping 0 on wrap-around) that every successful set advances, whatever the key: a key's cas is
 * the counter value of its last write. cas 0 writes unconditionally; a non-zero cas must equal the
 * key's current cas, else CAS_MISMATCH; a missing key is created whatever the cas.
 */
export class SharedData {
  private readonly data = new Map<string, Map<string, SharedValue>>();
  private casCounter = 1;

  private nextCas(): number {
    const r = this.casCounter;
    this.casCounter = (this.casCounter + 1) >>> 0;
    if (this.casCounter === 0) this.casCounter = 1;
    return r;
  }

  get(vmId: string, key: string): SharedValue | undefined {
    return this.data.get(vmId)?.get(key);
  }

  /** Tests of concurrent writers: called before every set is applied, so that another worker can
   *  change the key between a VM's read and its compare-and-swap write (as two Envoy workers can).
   *  Not called again while it runs. */
  beforeSet?: (vmId: string, key: string) => void;
  private inHook = false;

  set(vmId: string, key: string, value: Uint8Array, cas: number): number {
    if (this.beforeSet && !this.inHook) {
      this.inHook = true;
      try {
        this.beforeSet(vmId, key);
      } finally {
        this.inHook = false;
      }
    }
    let m = this.data.get(vmId);
    if (!m) this.data.set(vmId, (m = new Map()));
    const cur = m.get(key);
    if (cur && cas >>> 0 !== 0 && cas >>> 0 !== cur.cas) return Status.CAS_MISMATCH;
    m.set(key, { value: value.slice(), cas: this.nextCas() });
    return Status.OK;
  }

  keys(vmId: string): string[] {
    return [...(this.data.get(vmId)?.keys() ?? [])];
  }

  /** cpp-host drops a vm_id's data when the last VM with that vm_id goes away. */
  deleteVmId(vmId: string): void {
    this.data.delete(vmId);
  }

  /** A copy for assertions: vm_id → key → {text, cas}. */
  snapshot(vmId: string): Record<string, { text: string; cas: number }> {
    const out: Record<string, { text: string; cas: number }> = {};
    for (const [k, v] of this.data.get(vmId) ?? []) out[k] = { text: new TextDecoder().decode(v.value), cas: v.cas };
    return out;
  }
}

export interface QueueOwner {
  /** Delivers proxy_on_queue_ready(root, token) on the owner's thread (posted, not inline). */
  notify(rootContextId: number, token: number): void;
}

interface Queue {
  items: Uint8Array[];
  owner: QueueOwner;
  rootContextId: number;
}

/**
 * SharedQueue: (vm_id, name) → token. Tokens count from 1 process-wide. Registering an existing
 * name keeps its token and data but makes the registering VM's root the one notified on enqueue
 * (the last registrant wins). resolve with an empty vm_id means the caller's own vm_id.
 */
export class SharedQueues {
  private readonly tokens = new Map<string, number>();
  private readonly queues = new Map<number, Queue>();
  private nextToken = 1;

  private static key(vmId: string, name: string): string {
    return `${vmId}\0${name}`;
  }

  register(vmId: string, name: string, rootContextId: number, owner: QueueOwner): number {
    const k = SharedQueues.key(vmId, name);
    let token = this.tokens.get(k);
    if (token === undefined) {
      while (this.nextToken === 0 || this.queues.has(this.nextToken)) this.nextToken = (this.nextToken + 1) >>> 0;
      token = this.nextToken;
      this.nextToken = (this.nextToken + 1) >>> 0;
      this.tokens.set(k, token);
    }
    const q = this.queues.get(token);
    this.queues.set(token, { items: q?.items ?? [], owner, rootContextId });
    return token;
  }

  resolve(vmId: string, name: string): number {
    return this.tokens.get(SharedQueues.key(vmId, name)) ?? 0;
  }

  enqueue(token: number, value: Uint8Array): number {
    const q = this.queues.get(token >>> 0);
    if (!q) return Status.NOT_FOUND;
    q.items.push(value.slice());
    q.owner.notify(q.rootContextId, token >>> 0);
    return Status.OK;
  }

  dequeue(token: number): Uint8Array | number {
    const q = this.queues.get(token >>> 0);
    if (!q) return Status.NOT_FOUND;
    const v = q.items.shift();
    return v ?? Status.EMPTY;
  }
}
