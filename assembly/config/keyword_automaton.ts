// A multi-keyword matcher built once at configure time: an Aho–Corasick automaton turned into a
// deterministic one (no failure-link walks at match time): a dense u16 transition table over
// byte classes, one class per byte value that occurs in some keyword (about 140 with the
// built-in English and Chinese keywords: letters, digits, punctuation, UTF-8 lead and
// continuation bytes). Keywords are lowercase UTF-8; the text it runs on is lowercased ASCII
// (see request/task_detect.ts), which gives ASCII case-insensitive matching. Latin keywords match
// whole words (checked per match); other keywords match as substrings.
import { ASCII_CASE_BIT, DIGIT_0, LOWER_A, UNDERSCORE, UPPER_A, UPPER_Z } from "../bytes";

// Bigger automata are a configuration error (the table is states × classes × 2 bytes).
export const MAX_AUTOMATON_STATES: i32 = 16384;
export const MAX_KEYWORD_BYTES: i32 = 64;

export const BOUND_LEFT: u8 = 1;   // the byte before the match must not be a word character
export const BOUND_RIGHT: u8 = 2;  // the byte after it must not be one

// ASCII letters, digits and '_' (text is lowercased first, so a-z is enough).
@inline export function isWordByte(c: u32): bool {
  return (c - LOWER_A < 26) || (c - DIGIT_0 < 10) || c == UNDERSCORE;
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
  classes: StaticArray<u8> = new StaticArray<u8>(256);
  classCount: u32 = 1;
  next: StaticArray<u16> = new StaticArray<u16>(0);         // [state * classCount + class]
  // States at which some keyword ends (itself or through a suffix) are numbered from
  // firstOutput up: the match loop tests one comparison per byte. Per output state
  // (index state - firstOutput):
  firstOutput: u32 = 0;
  stateEntry: StaticArray<i32> = new StaticArray<i32>(0);  // first keyword ending exactly here, or -1
  dictLink: StaticArray<i32> = new StaticArray<i32>(0);    // nearest proper suffix state with a keyword, or -1
  entryNext: StaticArray<i32> = new StaticArray<i32>(0);   // next keyword ending at the same state, or -1
  entrySignal: StaticArray<u8> = new StaticArray<u8>(0);
  entryWeight: StaticArray<f32> = new StaticArray<f32>(0);
  entryLength: StaticArray<u16> = new StaticArray<u16>(0);
  entryBounds: StaticArray<u8> = new StaticArray<u8>(0);
  maxLength: i32 = 0;
  stateCount: i32 = 0;
  // Request scratch, the only mutable part: the request stamp of the last match of each keyword,
  // so a keyword counts once per request without clearing anything between requests, and per
  // output state the stamp of the request in which all its keywords have counted already.
  seen: StaticArray<u32> = new StaticArray<u32>(0);
  stateDone: StaticArray<u32> = new StaticArray<u32>(0);
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
    if (c >= UPPER_A && c <= UPPER_Z) utf8[i] = c | ASCII_CASE_BIT;
  }
  return new KeywordSpec(utf8, signal, weight, prefix, suffix);
}

// ---- building -----------------------------------------------------------------------------------

// The trie with sparse children (first child / next sibling lists) and the Aho–Corasick links.
class Trie {
  childClass: i32[] = [];
  childState: i32[] = [];
  childNext: i32[] = [];
  firstChild: i32[] = [-1];
  terminal: i32[] = [-1];   // first keyword ending at the state, -1
  fail: i32[] = [0];
  dict: i32[] = [-1];

  get count(): i32 { return this.terminal.length; }

  child(s: i32, cls: i32): i32 {
    for (let k = this.firstChild[s]; k >= 0; k = this.childNext[k]) if (this.childClass[k] == cls) return this.childState[k];
    return -1;
  }

  addChild(s: i32, cls: i32): i32 {
    const t = this.terminal.length;
    this.terminal.push(-1);
    this.firstChild.push(-1);
    this.fail.push(0);
    this.dict.push(-1);
    this.childClass.push(cls);
    this.childState.push(t);
    this.childNext.push(this.firstChild[s]);
    this.firstChild[s] = this.childClass.length - 1;
    return t;
  }

  // Where the complete automaton goes from s on cls.
  step(s: i32, cls: i32): i32 {
    while (true) {
      const t = this.child(s, cls);
      if (t >= 0) return t;
      if (s == 0) return 0;
      s = this.fail[s];
    }
  }

  hasOutput(s: i32): bool { return this.terminal[s] >= 0 || this.dict[s] >= 0; }
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
  const trie = new Trie();
  const entryNext = new Array<i32>(specs.length);
  let maxLength = 0;
  for (let i = 0; i < specs.length; i++) {
    const b = specs[i].bytes;
    let s = 0;
    for (let j = 0; j < b.length; j++) {
      const cls = <i32>a.classes[b[j]];
      let t = trie.child(s, cls);
      if (t < 0) {
        if (trie.count == MAX_AUTOMATON_STATES) return null;
        t = trie.addChild(s, cls);
      }
      s = t;
    }
    entryNext[i] = trie.terminal[s];
    trie.terminal[s] = i;
    if (b.length > maxLength) maxLength = b.length;
  }
  // Failure and dictionary links, breadth first (a state's links are shorter, so already known).
  const order: i32[] = [0];
  for (let k = 0; k < order.length; k++) {
    const u = order[k];
    for (let c = trie.firstChild[u]; c >= 0; c = trie.childNext[c]) {
      const t = trie.childState[c];
      const f = u == 0 ? 0 : trie.step(trie.fail[u], trie.childClass[c]);
      trie.fail[t] = f;
      trie.dict[t] = trie.terminal[f] >= 0 ? f : trie.dict[f];
      order.push(t);
    }
  }
  const n = trie.count;
  // Numbering: states without output first (the start state stays 0), states with output last.
  const id = new Array<i32>(n);
  let low = 0;
  for (let s = 0; s < n; s++) if (!trie.hasOutput(s)) id[s] = low++;
  a.firstOutput = <u32>low;
  let high = low;
  for (let s = 0; s < n; s++) if (trie.hasOutput(s)) id[s] = high++;
  // Complete transitions in breadth-first order: a missing edge goes where the failure state goes.
  const width = classCount;
  a.classCount = <u32>width;
  a.next = new StaticArray<u16>(n * width);
  for (let k = 0; k < order.length; k++) {
    const s = order[k];
    const row = id[s] * width, failRow = id[trie.fail[s]] * width;
    for (let c = 0; c < width; c++) {
      const t = trie.child(s, c);
      a.next[row + c] = <u16>(t >= 0 ? id[t] : s == 0 ? 0 : a.next[failRow + c]);
    }
  }
  const outputs = n - low;
  a.stateEntry = new StaticArray<i32>(outputs);
  a.stateDone = new StaticArray<u32>(outputs);
  a.dictLink = new StaticArray<i32>(outputs);
  for (let s = 0; s < n; s++) {
    if (!trie.hasOutput(s)) continue;
    a.stateEntry[id[s] - low] = trie.terminal[s];
    a.dictLink[id[s] - low] = trie.dict[s] >= 0 ? id[trie.dict[s]] : -1;
  }
  a.stateCount = n;
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
