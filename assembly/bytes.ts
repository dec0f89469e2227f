// ASCII bytes by name, for every scanner that compares raw bytes (JSON, paths, header values,
// server-sent events, the keyword automaton). A leaf: it imports nothing, so every layer may read it.
// Constants are inlined by the compiler: naming a byte costs nothing.

export const NUL: u8 = 0x00;
export const BACKSPACE: u8 = 0x08;
export const TAB: u8 = 0x09;
export const NEWLINE: u8 = 0x0a;
export const FORM_FEED: u8 = 0x0c;
export const CARRIAGE_RETURN: u8 = 0x0d;
export const SPACE: u8 = 0x20;        // also the first byte that is not a control byte
export const EXCLAMATION: u8 = 0x21;
export const QUOTE: u8 = 0x22;
export const HASH: u8 = 0x23;
export const PERCENT: u8 = 0x25;
export const AMPERSAND: u8 = 0x26;
export const APOSTROPHE: u8 = 0x27;
export const ASTERISK: u8 = 0x2a;
export const PLUS: u8 = 0x2b;
export const COMMA: u8 = 0x2c;
export const MINUS: u8 = 0x2d;
export const DOT: u8 = 0x2e;
export const SLASH: u8 = 0x2f;
export const DIGIT_0: u8 = 0x30;
export const DIGIT_1: u8 = 0x31;
export const DIGIT_9: u8 = 0x39;
export const COLON: u8 = 0x3a;
export const SEMICOLON: u8 = 0x3b;
export const EQUALS: u8 = 0x3d;
export const QUESTION: u8 = 0x3f;
export const AT: u8 = 0x40;
export const UPPER_A: u8 = 0x41;
export const UPPER_E: u8 = 0x45;
export const UPPER_Z: u8 = 0x5a;
export const OPEN_BRACKET: u8 = 0x5b;
export const BACKSLASH: u8 = 0x5c;
export const CLOSE_BRACKET: u8 = 0x5d;
export const CARET: u8 = 0x5e;
export const UNDERSCORE: u8 = 0x5f;
export const BACKTICK: u8 = 0x60;
export const LOWER_A: u8 = 0x61;
export const LOWER_B: u8 = 0x62;
export const LOWER_E: u8 = 0x65;
export const LOWER_F: u8 = 0x66;
export const LOWER_N: u8 = 0x6e;
export const LOWER_R: u8 = 0x72;
export const LOWER_T: u8 = 0x74;
export const LOWER_U: u8 = 0x75;
export const LOWER_V: u8 = 0x76;
export const LOWER_Z: u8 = 0x7a;
export const OPEN_BRACE: u8 = 0x7b;
export const PIPE: u8 = 0x7c;
export const CLOSE_BRACE: u8 = 0x7d;
export const TILDE: u8 = 0x7e;
export const DEL: u8 = 0x7f;

// "\u" (a JSON \uXXXX escape's start) as one little-endian u16 load reads it.
export const BACKSLASH_U: u16 = 0x755c;

// An ASCII letter OR'ed with it is lower case (and a lower-case letter stays as it is).
export const ASCII_CASE_BIT: u8 = 0x20;
// Bytes from here up belong to multi-byte UTF-8 sequences.
export const FIRST_NON_ASCII: u8 = 0x80;
