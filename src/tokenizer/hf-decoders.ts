// tokenizer.json decoders: token strings → text, as HF's decode_chain does it. Each decoder also
// says what one token is on its own in the middle of a text (tokenBytes): its bytes, before any
// start-of-text rule such as Strip removing the space SentencePiece prepends.

import { tokenStringToBytes } from './byte-level.ts';
import { at, bool, component, fail, list, pattern, replaceAll, str, uint, unsupported, type Where } from './hf-components.ts';

/** A token mid-decoding: still text, or already bytes (after ByteLevel or ByteFallback). */
export type TokenPiece = string | Uint8Array;

export interface Decoder {
  /** HF's decode_chain: the strings of a whole id sequence. */
  chain(tokens: string[]): string[];
  /**
   * One token in the middle of a text. `fused`: an earlier Fuse step joined all tokens, so
   * per-token rules of later steps only touch the start of the text, not this token.
   */
  piece(p: TokenPiece, fused: boolean): TokenPiece;
  /** Whether this step joins all tokens into one. */
  readonly fuses: boolean;
}

const SUPPORTED = ['ByteLevel', 'ByteFallback', 'Replace', 'Fuse', 'Strip', 'Metaspace', 'Sequence'];
const encoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const utf8Strict = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });
const BYTE_TOKEN = /^<0[xX]([0-9A-Fa-f]{2})>$/;

function textOf(p: TokenPiece): string {
  return typeof p === 'string' ? p : utf8.decode(p);
}

export function readDecoder(raw: unknown, w: Where): Decoder | null {
  if (raw === null || raw === undefined) return null;
  const { json, type } = component(raw, w);
  switch (type) {
    case 'ByteLevel':
      return {
        // A token outside the byte alphabet (an added token such as '<|im_start|>' is inside it;
        // '中' is not) contributes its own UTF-8, as in HF.
        chain: (tokens) => {
          const parts = tokens.map(byteLevelBytes);
          const all = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
          let at = 0;
          for (const b of parts) {
            all.set(b, at);
            at += b.length;
          }
          return [utf8.decode(all)];
        },
        piece: (p) => (typeof p === 'string' ? byteLevelBytes(p) : p),
        fuses: true,
      };
    case 'ByteFallback':
      return {
        // Runs of <0xHH> tokens become their UTF-8 text, or one U+FFFD per byte when invalid.
        chain: (tokens) => {
          const out: string[] = [];
          let bytes: number[] = [];
          const flush = (): void => {
            if (bytes.length === 0) return;
            try {
              out.push(utf8Strict.decode(new Uint8Array(bytes)));
            } catch {
              for (let i = 0; i < bytes.length; i++) out.push('\uFFFD');
            }
            bytes = [];
          };
          for (const t of tokens) {
            const m = BYTE_TOKEN.exec(t);
            if (m) bytes.push(parseInt(m[1]!, 16));
            else {
              flush();
              out.push(t);
            }
          }
          flush();
          return out;
        },
        piece: (p) => {
          const m = typeof p === 'string' ? BYTE_TOKEN.exec(p) : null;
          return m ? new Uint8Array([parseInt(m[1]!, 16)]) : p;
        },
        fuses: false,
      };
    case 'Replace': {
      const re = pattern(json['pattern'], at(w, 'pattern'));
      const content = str(json, 'content', w);
      return { chain: (tokens) => tokens.map((t) => replaceAll(t, re, content)), piece: (p) => (typeof p === 'string' ? replaceAll(p, re, content) : p), fuses: false };
    }
    case 'Fuse':
      return { chain: (tokens) => [tokens.join('')], piece: (p) => p, fuses: true };
    case 'Strip': {
      const content = str(json, 'content', w);
      if ([...content].length !== 1) fail(at(w, 'content'), `is ${JSON.stringify(content)}; expected one character`);
      const start = uint(json, 'start', w, 0);
      const stop = uint(json, 'stop', w, 0);
      const strip = (t: string): string => {
        const chars = [...t];
        let a = 0;
        while (a < start && a < chars.length && chars[a] === content) a++;
        let b = chars.length;
        while (chars.length - b < stop && b > a && chars[b - 1] === content) b--;
        return chars.slice(a, b).join('');
      };
      return { chain: (tokens) => tokens.map(strip), piece: (p, fused) => (fused ? p : strip(textOf(p))), fuses: false };
    }
    case 'Metaspace': {
      const replacement = str(json, 'replacement', w, '▁');
      // Older files say add_prefix_space; newer ones prepend_scheme. Either way the first token
      // loses the space the pre-tokenizer put in front of the text.
      const stripFirst = json['prepend_scheme'] !== undefined ? str(json, 'prepend_scheme', w) !== 'never' : bool(json, 'add_prefix_space', w, true);
      const toSpaces = (t: string): string => t.replaceAll(replacement, ' ');
      return {
        chain: (tokens) => tokens.map((t, i) => (i === 0 && stripFirst && t.startsWith(replacement) ? toSpaces(t.slice(replacement.length)) : toSpaces(t))),
        piece: (p) => (typeof p === 'string' ? toSpaces(p) : p),
        fuses: false,
      };
    }
    case 'Sequence': {
      const steps = list(json, 'decoders', w).map((d, i) => readDecoder(d, at(at(w, 'decoders'), i))).filter((d): d is Decoder => d !== null);
      return {
        chain: (tokens) => steps.reduce((t, d) => d.chain(t), tokens),
        piece: (p, fused) => {
          let out = p;
          let f = fused;
          for (const d of steps) {
            out = d.piece(out, f);
            f ||= d.fuses;
          }
          return out;
        },
        fuses: steps.some((d) => d.fuses),
      };
    }
    default:
      unsupported(w, type, SUPPORTED);
  }
}

/** A token's bytes through GPT-2's byte alphabet, or its UTF-8 when it has characters outside it. */
function byteLevelBytes(token: string): Uint8Array {
  return tokenStringToBytes(token) ?? encoder.encode(token);
}

/** What decoding a single token in mid-text gives, as bytes. */
export function tokenPieceBytes(decoder: Decoder | null, token: string): Uint8Array {
  const p = decoder === null ? token : decoder.piece(token, false);
  return typeof p === 'string' ? encoder.encode(p) : p;
}
