// A multi-keyword matcher built once at configure time: an Aho–Corasick automaton turned into a
// dense transition table (one u16 load per text byte, no failure-link walks at match time), over
// byte classes so a table row has one entry per byte value that occurs in some keyword. Keywords
// are lowercase UTF-8; the text it runs on is lowercased ASCII (see request/task_detect.ts), which
// gives ASCII case-insensitive matching. Latin keywords match whole words (checked per match);
// keywords in other scripts match as plain substrings.

// Bigger automata are a configuration error: the table is states × row bytes (at most 8 MiB).
export const MAX_AUTOMATON_STATES: i32 = 16384;
export const MAX_KEYWORD_BYTES: i32 = 64;

export const BOUND_LEFT: u8 = 1;   // the byte before the match must not be a word character
export const BOUND_RIGHT: u8 = 2;  // the byte after it must not be one

// ASCII letters, digits and '_' (text is lowercased first, so a-z is enough).
@inline export function isWordByte(c: u32): bool {
  return (c - 0x61 < 26) || (c - 0x30 < 10) || c == 0x5f;
}

// One keyword as given to the builder: lowercase UTF-8 bytes, what it scores, and its weight.
export class KeywordSpec {
  constructor(
    public bytes: Uint8Array,
    public signal: u8,
    public weight: f32,
    public prefix: bool,   // a trailing '*' in the source: no word boundary after it
    public suffix: bool,   // a leading '*': no word boundary before it
  ) {}
}

export class KeywordAutomaton {
  rowShift: u32 = 0;                        // a row holds 1 << rowShift classes
  classes: StaticArray<u8> = new StaticArray<u8>(256);
  next: StaticArray<u16> = new StaticArray<u16>(0);
  // States numbered so that every state at which some keyword ends (itself or through a suffix)
  // is >= firstOutputState: the match loop tests one comparison per byte.
  firstOutputState: u32 = 0;
  stateCount: i32 = 0;
  stateEntry: StaticArray<i32> = new StaticArray<i32>(0);  // first keyword ending exactly here, or -1
  dictLink: StaticArray<i32> = new StaticArray<i32>(0);    // nearest proper suffix state with a keyword, or -1
  entryNext: StaticArray<i32> = new StaticArray<i32>(0);   // next keyword ending at the same state, or -1
  entrySignal: StaticArray<u8> = new StaticArray<u8>(0);
  entryWeight: StaticArray<f32> = new StaticArray<f32>(0);
  entryLength: StaticArray<u16> = new StaticArray<u16>(0);
  entryBounds: StaticArray<u8> = new StaticArray<u8>(0);
  maxLength: i32 = 0;
  // Request scratch, the only mutable part: the request stamp of the last match of each keyword,
  // so a keyword counts once per request without clearing anything between requests.
  seen: StaticArray<u32> = new StaticArray<u32>(0);
}

// Normalises a configured or built-in keyword: ASCII letters lowercased, a trailing '*' taken as
// "any word that starts with it", a leading '*' as "any word that ends with it". Returns null
// for an empty keyword or one longer than MAX_KEYWORD_BYTES.
export function keywordSpec(text: string, signal: u8, weight: f32): KeywordSpec | null {
  let prefix = false, suffix = false;
  if (text.endsWith("*")) {
    prefix = true;
    text = text.substring(0, text.length - 1);
  }
  if (text.startsWith("*")) {
    suffix = true;
    text = text.substring(1);
  }
  const utf8 = Uint8Array.wrap(String.UTF8.encode(text));
  if (utf8.length == 0 || utf8.length > MAX_KEYWORD_BYTES) return null;
  for (let i = 0; i < utf8.length; i++) {
    const c = utf8[i];
    if (c >= 0x41 && c <= 0x5a) utf8[i] = c | 0x20;
  }
  return new KeywordSpec(utf8, signal, weight, prefix, suffix);
}

function addState(go: Array<i32>, terminal: Array<i32>, width: i32): i32 {
  const id = terminal.length;
  for (let c = 0; c < width; c++) go.push(-1);
  terminal.push(-1);
  return id;
}

// Builds the automaton; null when it would exceed MAX_AUTOMATON_STATES.
export function buildAutomaton(specs: KeywordSpec[]): KeywordAutomaton | null {
  const a = new KeywordAutomaton();
  // Byte classes: 0 for bytes no keyword uses, then one class per distinct keyword byte.
  let classCount = 1;
  for (let i = 0; i < specs.length; i++) {
    const b = specs[i].bytes;
    for (let j = 0; j < b.length; j++) {
      if (a.classes[b[j]] == 0) {
        a.classes[b[j]] = <u8>classCount;
        classCount++;
      }
    }
  }
  if (classCount > 256) return null; // cannot happen with 256 byte values, kept for the u8 cast
  let shift: u32 = 0;
  while ((1 << shift) < classCount) shift++;
  a.rowShift = shift;
  const width = 1 << shift;

  // Trie in a growable dense goto table (-1 = no edge), built state by state.
  const go = new Array<i32>(0);
  const terminal = new Array<i32>(0); // first entry ending at the state, -1
  addState(go, terminal, width);
  const entryNext = new Array<i32>(specs.length);
  let maxLength = 0;
  for (let i = 0; i < specs.length; i++) {
    const b = specs[i].bytes;
    let s = 0;
    for (let j = 0; j < b.length; j++) {
      const cls = <i32>a.classes[b[j]];
      let t = go[(s << shift) + cls];
      if (t < 0) {
        if (terminal.length == MAX_AUTOMATON_STATES) return null;
        t = addState(go, terminal, width);
        go[(s << shift) + cls] = t;
      }
      s = t;
    }
    entryNext[i] = terminal[s];
    terminal[s] = i;
    if (b.length > maxLength) maxLength = b.length;
  }
  const n = terminal.length;

  // Breadth-first: failure links, complete transitions, dictionary links.
  const fail = new Array<i32>(n);
  const dict = new Array<i32>(n);
  const order = new Array<i32>(0);
  fail[0] = 0;
  dict[0] = -1;
  for (let c = 0; c < width; c++) {
    const t = go[c];
    if (t < 0) go[c] = 0;
    else { fail[t] = 0; dict[t] = -1; order.push(t); }
  }
  for (let k = 0; k < order.length; k++) {
    const u = order[k];
    const f = fail[u];
    for (let c = 0; c < width; c++) {
      const t = go[(u << shift) + c];
      const viaFail = go[(f << shift) + c];
      if (t < 0) { go[(u << shift) + c] = viaFail; continue; }
      fail[t] = viaFail;
      dict[t] = terminal[viaFail] >= 0 ? viaFail : dict[viaFail];
      order.push(t);
    }
  }

  // Renumber: states without output first (the root stays 0), states with output last.
  const renamed = new Array<i32>(n);
  let low = 0;
  for (let s = 0; s < n; s++) if (terminal[s] < 0 && dict[s] < 0) renamed[s] = low++;
  a.firstOutputState = <u32>low;
  let high = low;
  for (let s = 0; s < n; s++) if (terminal[s] >= 0 || dict[s] >= 0) renamed[s] = high++;

  a.stateCount = n;
  a.next = new StaticArray<u16>(n << shift);
  a.stateEntry = new StaticArray<i32>(n);
  a.dictLink = new StaticArray<i32>(n);
  for (let s = 0; s < n; s++) {
    const r = renamed[s];
    for (let c = 0; c < width; c++) a.next[(r << shift) + c] = <u16>renamed[go[(s << shift) + c]];
    a.stateEntry[r] = terminal[s];
    a.dictLink[r] = dict[s] >= 0 ? renamed[dict[s]] : -1;
  }
  const m = specs.length;
  a.entryNext = new StaticArray<i32>(m);
  a.entrySignal = new StaticArray<u8>(m);
  a.entryWeight = new StaticArray<f32>(m);
  a.entryLength = new StaticArray<u16>(m);
  a.entryBounds = new StaticArray<u8>(m);
  a.seen = new StaticArray<u32>(m);
  for (let i = 0; i < m; i++) {
    const spec = specs[i];
    const b = spec.bytes;
    a.entryNext[i] = entryNext[i];
    a.entrySignal[i] = spec.signal;
    a.entryWeight[i] = spec.weight;
    a.entryLength[i] = <u16>b.length;
    let bounds: u8 = 0;
    if (!spec.suffix && isWordByte(b[0])) bounds |= BOUND_LEFT;
    if (!spec.prefix && isWordByte(b[b.length - 1])) bounds |= BOUND_RIGHT;
    a.entryBounds[i] = bounds;
  }
  a.maxLength = maxLength;
  return a;
}
