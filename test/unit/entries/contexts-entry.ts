// Test entry (not part of the plugin): the context table driven from JavaScript.
import { Context, ContextKind, ContextTable } from "../../../assembly/contexts";

const table = new ContextTable();
export function set(id: u32): void { table.set(id, new Context(ContextKind.Stream)); }
export function find(id: u32): u32 { const c = table.find(id); return c === null ? 0 : c.id; }
export function remove(id: u32): u32 { const c = table.remove(id); return c === null ? 0 : c.id; }
