// A small document model for the model card, rendered both as Markdown (README.md, the Hugging
// Face format) and as a standalone HTML page, so the two never drift apart. Inline text may use
// `code` spans, **bold** and [links](url); everything else is escaped.

export type Block =
  | { type: 'heading'; level: 1 | 2 | 3; text: string }
  | { type: 'para'; text: string }
  | { type: 'list'; items: string[] }
  | { type: 'table'; header: string[]; rows: string[][]; align?: ('left' | 'right')[] }
  | { type: 'code'; text: string }
  | { type: 'image'; src: string; alt: string };

export function toMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${b.text}`);
        break;
      case 'para':
        out.push(b.text);
        break;
      case 'list':
        out.push(b.items.map((i) => `- ${i}`).join('\n'));
        break;
      case 'table': {
        const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
        const align = b.header.map((_, i) => (b.align?.[i] === 'right' ? '---:' : '---'));
        out.push([`| ${b.header.map(cell).join(' | ')} |`, `| ${align.join(' | ')} |`, ...b.rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n'));
        break;
      }
      case 'code':
        out.push('```\n' + b.text.replace(/```/g, '`\u200b``') + '\n```');
        break;
      case 'image':
        out.push(`![${b.alt}](${b.src})`);
        break;
    }
  }
  return out.join('\n\n') + '\n';
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Inline Markdown subset → HTML: `code`, **bold**, [text](url). */
export function inlineHtml(s: string): string {
  const parts = s.split(/(`[^`]*`)/);
  return parts
    .map((p) => {
      if (p.startsWith('`') && p.endsWith('`') && p.length >= 2) return `<code>${escapeHtml(p.slice(1, -1))}</code>`;
      return escapeHtml(p)
        .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
        .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, text: string, url: string) => `<a href="${url}">${text}</a>`);
    })
    .join('');
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}' +
  'table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;vertical-align:top}th{background:#f3f3f3}' +
  'td.r{text-align:right}code{background:#f3f3f3;padding:0 .2rem}pre{background:#f6f6f6;padding:.8rem;overflow-x:auto;white-space:pre-wrap}' +
  'img{max-width:100%}.meta{color:#555;font-size:.9rem}';

export function toHtml(blocks: readonly Block[], title: string, frontMatter?: string): string {
  const body: string[] = [];
  for (const b of blocks) {
    switch (b.type) {
      case 'heading':
        body.push(`<h${b.level}>${inlineHtml(b.text)}</h${b.level}>`);
        break;
      case 'para':
        body.push(`<p>${inlineHtml(b.text)}</p>`);
        break;
      case 'list':
        body.push(`<ul>${b.items.map((i) => `<li>${inlineHtml(i)}</li>`).join('')}</ul>`);
        break;
      case 'table':
        body.push(
          `<table><thead><tr>${b.header.map((h) => `<th>${inlineHtml(h)}</th>`).join('')}</tr></thead><tbody>` +
            b.rows.map((r) => `<tr>${r.map((c, i) => `<td${b.align?.[i] === 'right' ? ' class="r"' : ''}>${inlineHtml(c)}</td>`).join('')}</tr>`).join('') +
            '</tbody></table>',
        );
        break;
      case 'code':
        body.push(`<pre>${escapeHtml(b.text)}</pre>`);
        break;
      case 'image':
        body.push(`<p><img src="${escapeHtml(b.src)}" alt="${escapeHtml(b.alt)}"></p>`);
        break;
    }
  }
  const meta = frontMatter ? `<details class="meta"><summary>Hugging Face metadata</summary><pre>${escapeHtml(frontMatter)}</pre></details>` : '';
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>\n<body>\n${meta}\n${body.join('\n')}\n</body></html>\n`;
}

/** YAML for the card's front matter: plain scalars quoted when needed, nested maps and lists. */
export function toYaml(value: unknown, indent = 0): string {
  const pad = ' '.repeat(indent);
  const scalar = (v: unknown): string => {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
    if (typeof v === 'boolean') return String(v);
    const s = String(v);
    return /^[A-Za-z0-9_./-][A-Za-z0-9 _./()+-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[\d.+-]/.test(s) ? s : JSON.stringify(s);
  };
  if (Array.isArray(value)) {
    return value
      .map((item) => {
        if (item !== null && typeof item === 'object') {
          const inner = toYaml(item, indent + 2).replace(/^\s+/, '');
          return `${pad}- ${inner}`;
        }
        return `${pad}- ${scalar(item)}`;
      })
      .join('\n');
  }
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => {
        if (v !== null && typeof v === 'object' && (!Array.isArray(v) || v.length > 0)) return `${pad}${k}:\n${toYaml(v, indent + 2)}`;
        if (Array.isArray(v)) return `${pad}${k}: []`;
        return `${pad}${k}: ${scalar(v)}`;
      })
      .join('\n');
  }
  return pad + scalar(value);
}
