// GPT-2's byte-level alphabet: every byte 0..255 gets one printable Unicode character, so a token
// (a byte string, possibly a partial UTF-8 sequence) can be written as an ordinary JSON string in
// vocab.json / merges.txt / tokenizer.json. Printable Latin-1 bytes map to themselves; the other 68
// bytes (controls, space, 0x7F-0xA0, 0xAD) map to U+0100.. in byte order, which is why a leading
// space shows as 'Ġ' (U+0120) and a newline as 'Ċ' (U+010A).

function buildByteToChar(): string[] {
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return chars;
}

/** byte → its character in the byte-level alphabet. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** UTF-16 code unit of a byte-level character → byte, or -1 for characters outside the alphabet. */
const CHAR_TO_BYTE = new Int16Array(512).fill(-1);
for (let b = 0; b < 256; b++) CHAR_TO_BYTE[BYTE_TO_CHAR[b]!.charCodeAt(0)] = b;

/**
 * The 256 bytes in the order GPT-2's `bytes_to_unicode` lists them (printable ones first). GPT-2's
 * vocabulary gives the byte tokens ids in this order; trained genlab vocabularies use byte order.
 */
export const GPT2_BYTE_ORDER: readonly number[] = (() => {
  const order: number[] = [];
  for (let b = 0; b < 256; b++) if (BYTE_TO_CHAR[b]!.charCodeAt(0) === b) order.push(b);
  for (let b = 0; b < 256; b++) if (BYTE_TO_CHAR[b]!.charCodeAt(0) !== b) order.push(b);
  return order;
})();

/** Bytes → byte-level string (the form tokens take in vocab.json and merges.txt). */
export function bytesToTokenString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/** Byte-level string → bytes, or null if a character is outside the byte-level alphabet. */
export function tokenStringToBytes(token: string): Uint8Array | null {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    const b = c < 512 ? CHAR_TO_BYTE[c]! : -1;
    if (b < 0) return null;
    out[i] = b;
  }
  return out;
}

/**
 * UTF-8-encodes s[start..end) into `out` from index 0 and returns the byte count; `out` must hold
 * 3 × (end - start) bytes. A lone surrogate becomes U+FFFD (EF BF BD), exactly as TextEncoder
 * does: UTF-8 cannot represent it, and this keeps genlab's bytes identical to other tokenizers'.
 */
export function utf8Encode(s: string, out: Uint8Array, start = 0, end = s.length): number {
  let n = 0;
  const len = end;
  for (let i = start; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < len ? s.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[n++] = 0xf0 | (cp >> 18);
          out[n++] = 0x80 | ((cp >> 12) & 63);
          out[n++] = 0x80 | ((cp >> 6) & 63);
          out[n++] = 0x80 | (cp & 63);
          continue;
        }
        c = 0xfffd;
      }
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    }
  }
  return n;
}

/** `s` with every lone surrogate replaced by U+FFFD: what decode(encode(s)) returns. */
export function toWellFormed(s: string): string {
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    out += s.slice(last, i) + '\ufffd';
    last = i + 1;
  }
  return last === 0 ? s : out + s.slice(last);
}

/**
 * Renders bytes that may cut UTF-8 sequences (a token can hold the first two bytes of an emoji):
 * complete, valid sequences as text, every other byte as `<0xNN>`.
 */
export function renderBytes(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const len = validSequenceLength(bytes, i);
    if (len > 0) {
      out += utf8Decoder.decode(bytes.subarray(i, i + len));
      i += len;
    } else {
      out += `<0x${bytes[i]!.toString(16).toUpperCase().padStart(2, '0')}>`;
      i++;
    }
  }
  return out;
}

// ignoreBOM keeps a leading U+FEFF: by default TextDecoder strips it, which would break round-trips.
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Length of the well-formed UTF-8 sequence starting at `i`, or 0 (RFC 3629 table 3-7). */
function validSequenceLength(b: Uint8Array, i: number): number {
  const b0 = b[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}
