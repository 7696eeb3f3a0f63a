// The module specifiers a TypeScript file imports, read from its tokens: static imports and
// re-exports (with whether they are type-only, so erased when compiled) and dynamic import('…')
// calls with a literal argument. Comments, strings and the text of template literals are skipped,
// so something that merely looks like an import is not taken for one. Used by the tests that check
// the layering of src/ and what the build ships.

interface Token {
  kind: 'id' | 'str' | 'punct' | 'other';
  text: string;
}

/**
 * Splits TypeScript into the tokens an import can be made of, skipping comments and the insides of
 * template literals (but not the expressions in them), so text that merely looks like an import,
 * in a comment, a string or a generated source, is not taken for one.
 */
function tokenize(s: string): Token[] {
  const out: Token[] = [];
  // Brace depth inside each `${` of the template literals we are in; the last entry is the innermost.
  const templates: number[] = [];
  const regexAfter = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^', 'return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await']);
  const regexAllowed = (): boolean => out.length === 0 || regexAfter.has(out[out.length - 1]!.text);
  let i = 0;
  /** Scans template text from i to the closing backtick or the next `${`. */
  const templateText = (): void => {
    while (i < s.length) {
      if (s[i] === '\\') i += 2;
      else if (s[i] === '`') {
        i++;
        out.push({ kind: 'other', text: '`…`' });
        return;
      } else if (s[i] === '$' && s[i + 1] === '{') {
        i += 2;
        templates.push(0);
        out.push({ kind: 'punct', text: '(' });
        return;
      } else i++;
    }
  };
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '/' && s[i + 1] === '/') i = s.indexOf('\n', i) < 0 ? s.length : s.indexOf('\n', i);
    else if (c === '/' && s[i + 1] === '*') i = s.indexOf('*/', i + 2) < 0 ? s.length : s.indexOf('*/', i + 2) + 2;
    else if (c === '"' || c === "'") {
      let j = i + 1;
      let value = '';
      while (j < s.length && s[j] !== c && s[j] !== '\n') {
        if (s[j] === '\\') j++;
        value += s[j];
        j++;
      }
      out.push({ kind: 'str', text: value });
      i = j + 1;
    } else if (c === '`') {
      i++;
      templateText();
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[\w$]+/.exec(s.slice(i, i + 200))!;
      out.push({ kind: 'id', text: m[0] });
      i += m[0].length;
    } else if (/\d/.test(c)) {
      const m = /^[\w.]+/.exec(s.slice(i, i + 100))!;
      out.push({ kind: 'other', text: m[0] });
      i += m[0].length;
    } else if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let inClass = false;
      while (j < s.length && s[j] !== '\n' && (inClass || s[j] !== '/')) {
        if (s[j] === '\\') j++;
        else if (s[j] === '[') inClass = true;
        else if (s[j] === ']') inClass = false;
        j++;
      }
      i = j + 1;
      while (i < s.length && /[a-z]/.test(s[i]!)) i++;
      out.push({ kind: 'other', text: '/regex/' });
    } else if (templates.length > 0 && c === '{') {
      templates[templates.length - 1]!++;
      out.push({ kind: 'punct', text: c });
      i++;
    } else if (templates.length > 0 && c === '}') {
      i++;
      if (templates[templates.length - 1] === 0) {
        templates.pop();
        out.push({ kind: 'punct', text: ')' });
        templateText();
      } else {
        templates[templates.length - 1]!--;
        out.push({ kind: 'punct', text: c });
      }
    } else {
      out.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return out;
}

export interface ImportRef {
  /** As written: './x.ts', 'node:fs', 'commander'. */
  spec: string;
  /** `import type`, `export type`, every named import marked `type`, or `typeof import(…)`: erased when compiled. */
  typeOnly: boolean;
}

/** The module specifiers a file imports, in the order they appear. */
export function importsOf(source: string): ImportRef[] {
  const t = tokenize(source);
  const found: ImportRef[] = [];
  const at = (k: number): string => t[k]?.text ?? '';
  for (let k = 0; k < t.length; k++) {
    // `x.import`, `import.meta`: not imports.
    if (t[k]!.kind !== 'id' || (at(k) !== 'import' && at(k) !== 'export') || at(k - 1) === '.' || at(k + 1) === '.') continue;
    if (at(k) === 'import' && at(k + 1) === '(') {
      if (t[k + 2]?.kind === 'str' && at(k + 3) === ')') found.push({ spec: at(k + 2), typeOnly: at(k - 1) === 'typeof' });
      continue;
    }
    if (at(k) === 'import' && t[k + 1]?.kind === 'str') {
      found.push({ spec: at(k + 1), typeOnly: false });
      continue;
    }
    let j = k + 1;
    let typeOnly = false;
    if (at(j) === 'type' && at(j + 1) !== 'from' && at(j + 1) !== ',' && at(j + 1) !== '=') {
      typeOnly = true;
      j++;
    }
    // `export` statements without a `from` (export const, export function, …) import nothing.
    if (at(k) === 'export' && at(j) !== '{' && at(j) !== '*') continue;
    let named = 0;
    let namedTypes = 0;
    for (; j < t.length && at(j) !== ';' && !(at(j) === 'from' && t[j + 1]?.kind === 'str'); j++) {
      if (at(j) === '{' || at(j) === ',') {
        if (at(j + 1) === '}') continue;
        named++;
        if (at(j + 1) === 'type' && t[j + 2]?.kind === 'id' && at(j + 2) !== 'as') namedTypes++;
      }
      if (at(k) === 'export' && at(j) === '}' && at(j + 1) !== 'from') break;
    }
    if (at(j) === 'from' && t[j + 1]?.kind === 'str') found.push({ spec: at(j + 1), typeOnly: typeOnly || (named > 0 && named === namedTypes) });
  }
  return found;
}
