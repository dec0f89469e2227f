// The answer to GET /v1/models, in OpenAI's list format, built once per configuration so that a
// request only slices precomputed bytes: aliases first (what a chat UI's model picker should offer,
// owned by the router), then the catalog models (owned by their upstream).
import { COMMA } from "../bytes";
import { jsonEscape } from "../json/escape";
import { ModelList, RouterConfig } from "./types";
import { ALIAS_OWNER } from "../names";

function entry(id: string, created: string, owner: string): ArrayBuffer {
  return String.UTF8.encode("{\"id\":\"" + jsonEscape(id) + "\",\"object\":\"model\",\"created\":" + created + ",\"owned_by\":\"" + jsonEscape(owner) + "\"}");
}

// `created`: Unix seconds when the configuration was loaded (the models have no creation date of
// their own; a time that changes only when the configuration does keeps client caches honest).
export function buildModelList(cfg: RouterConfig, created: i64): void {
  const list = new ModelList();
  cfg.modelList = list;
  if (!cfg.listModels) return;
  const stamp = created.toString();
  const pieces = new Array<ArrayBuffer>(0);
  for (let i = 0; i < cfg.routes.length; i++) pieces.push(entry(cfg.routes[i].name, stamp, ALIAS_OWNER));
  for (let i = 0; i < cfg.models.length; i++) pieces.push(entry(cfg.models[i].name, stamp, cfg.models[i].upstream));
  const head = String.UTF8.encode("{\"object\":\"list\",\"data\":[");
  const tail = String.UTF8.encode("]}");
  let size = head.byteLength + tail.byteLength + max(0, pieces.length - 1);
  for (let i = 0; i < pieces.length; i++) size += pieces[i].byteLength;
  // One buffer written once: concatenating strings would copy the list once per entry.
  const body = new ArrayBuffer(size);
  const base = changetype<usize>(body);
  memory.copy(base, changetype<usize>(head), head.byteLength);
  let at = head.byteLength;
  const starts = new Array<i32>(pieces.length), ends = new Array<i32>(pieces.length);
  for (let i = 0; i < pieces.length; i++) {
    if (i > 0) store<u8>(base + at++, COMMA);
    starts[i] = at;
    memory.copy(base + at, changetype<usize>(pieces[i]), pieces[i].byteLength);
    at += pieces[i].byteLength;
    ends[i] = at;
  }
  memory.copy(base + at, changetype<usize>(tail), tail.byteLength);
  list.body = body;
  const routes = cfg.routes.length;
  list.routeStart = starts.slice(0, routes);
  list.routeEnd = ends.slice(0, routes);
  list.modelStart = starts.slice(routes);
  list.modelEnd = ends.slice(routes);
}
