// Enough of Go's text/template (the syntax of Ollama's TEMPLATE) to render the templates genlab
// writes, so tests can compare them with the model's Jinja template: text, {{ .Field }},
// {{ range .Messages }} / {{ range $i, $_ := .Messages }}, {{ if .X }}, {{ if eq .Role "user" }},
// {{ else if … }}, {{ else }}, {{ end }}, and the {{- / -}} whitespace trims. Anything else throws,
// so a template using more than this subset fails its test instead of rendering wrongly.

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'field'; name: string }
  | { kind: 'range'; field: string; body: Node[] }
  | { kind: 'if'; branches: { cond: string | null; body: Node[] }[] };

interface Token {
  kind: 'text' | 'action';
  value: string;
}

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ kind: 'text', value: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    const close = src.indexOf('}}', open);
    if (close < 0) throw new Error(`unclosed action at ${open}`);
    let inner = src.slice(open + 2, close);
    if (inner.startsWith('-')) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    let trimAfter = false;
    if (inner.endsWith('-')) {
      trimAfter = true;
      inner = inner.slice(0, -1);
    }
    if (text) out.push({ kind: 'text', value: text });
    out.push({ kind: 'action', value: inner.trim() });
    i = close + 2;
    if (trimAfter) while (i < src.length && /\s/.test(src[i]!)) i++;
  }
  return out;
}

function parse(tokens: Token[]): Node[] {
  let pos = 0;
  const block = (stops: RegExp): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.kind === 'text') {
        nodes.push({ kind: 'text', text: t.value });
        continue;
      }
      const a = t.value;
      if (stops.test(a)) return { nodes, stop: a };
      let m: RegExpMatchArray | null;
      if ((m = a.match(/^\.(\w+)$/))) nodes.push({ kind: 'field', name: m[1]! });
      else if ((m = a.match(/^range (?:\$\w+, \$\w+ := )?\.(\w+)$/))) {
        const body = block(/^end$/);
        nodes.push({ kind: 'range', field: m[1]!, body: body.nodes });
      } else if ((m = a.match(/^if (.+)$/))) {
        const branches: { cond: string | null; body: Node[] }[] = [];
        let cond: string | null = m[1]!;
        for (;;) {
          const b = block(/^(end|else|else if .+)$/);
          branches.push({ cond, body: b.nodes });
          if (b.stop === 'end') break;
          cond = b.stop === 'else' ? null : b.stop.slice('else if '.length);
        }
        nodes.push({ kind: 'if', branches });
      } else throw new Error(`unsupported action {{ ${a} }}`);
    }
    if (stops.source !== '^$') throw new Error(`missing {{ end }} (stopped looking for ${stops})`);
    return { nodes, stop: '' };
  };
  return block(/^$/).nodes;
}

type Data = Record<string, unknown>;

function truthy(cond: string, dot: Data): boolean {
  let m: RegExpMatchArray | null;
  if ((m = cond.match(/^\.(\w+)$/))) {
    const v = dot[m[1]!];
    return Array.isArray(v) ? v.length > 0 : Boolean(v);
  }
  if ((m = cond.match(/^eq \.(\w+) "([^"]*)"$/))) return dot[m[1]!] === m[2];
  throw new Error(`unsupported condition ${cond}`);
}

function run(nodes: Node[], dot: Data): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'field') {
      if (!(n.name in dot)) throw new Error(`no field .${n.name}`);
      out += String(dot[n.name] ?? '');
    } else if (n.kind === 'range') {
      for (const item of (dot[n.field] as Data[] | undefined) ?? []) out += run(n.body, item);
    } else {
      const hit = n.branches.find((b) => b.cond === null || truthy(b.cond, dot));
      if (hit) out += run(hit.body, dot);
    }
  }
  return out;
}

/** Renders a Go template with Ollama's data: .Messages (each .Role, .Content), .System, .Prompt. */
export function renderGoTemplate(template: string, data: Data): string {
  return run(parse(lex(template)), data);
}

/** A Modelfile's commands: FROM, TEMPLATE (""" … """ may span lines), PARAMETER name value. */
export function parseModelfile(text: string): { from: string; template: string | null; parameters: [string, string][] } {
  let from: string | null = null;
  let template: string | null = null;
  const parameters: [string, string][] = [];
  let i = 0;
  const lines = text.split('\n');
  while (i < lines.length) {
    const line = lines[i]!;
    i++;
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = line.match(/^(\w+)\s+(.*)$/);
    if (!m) throw new Error(`Modelfile line ${i}: ${JSON.stringify(line)} is not "COMMAND argument"`);
    const cmd = m[1]!.toUpperCase();
    let arg = m[2]!;
    if (arg.startsWith('"""')) {
      let body = arg.slice(3);
      while (!body.endsWith('"""')) {
        if (i >= lines.length) throw new Error(`Modelfile: unterminated """ in ${cmd}`);
        body += '\n' + lines[i]!;
        i++;
      }
      arg = body.slice(0, -3);
    }
    if (cmd === 'FROM') from = arg;
    else if (cmd === 'TEMPLATE') template = arg;
    else if (cmd === 'PARAMETER') {
      const p = arg.match(/^(\w+)\s+(.*)$/);
      if (!p) throw new Error(`Modelfile: PARAMETER ${arg} has no value`);
      const value = p[2]!.startsWith('"') && p[2]!.endsWith('"') ? p[2]!.slice(1, -1) : p[2]!;
      parameters.push([p[1]!, value]);
    } else throw new Error(`Modelfile: unknown command ${cmd}`);
  }
  if (from === null) throw new Error('Modelfile has no FROM');
  return { from, template, parameters };
}
