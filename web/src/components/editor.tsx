// The writing surface. Tab (or the Suggest button) asks the model for three continuations of the
// text before the caret; they stream into a popup next to the caret. Tab again adds three more,
// ↑/↓ and Enter (or a click) insert one, Esc closes the popup. Esc with no popup open lets the
// next Tab leave the editor, so keyboard users are never trapped.

import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { Api } from '../api.ts';
import { caretPoint } from '../caret.ts';
import type { Settings } from '../settings.ts';
import { SparkleIcon } from './icons.tsx';

export interface Inserted {
  key: string;
  prompt: string;
  text: string;
  rating: 'up' | 'down' | null;
}

interface Item {
  text: string;
  done: boolean;
}

interface Popup {
  session: number;
  top: number;
  left: number;
  start: number;
  end: number;
  context: string;
  items: Item[];
  selected: number;
  pending: number;
  error: string | null;
}

const PER_REQUEST = 3;
const POPUP_WIDTH = 440;

export function visible(text: string): string {
  return text.replace(/\n/g, '↵ ').replace(/\t/g, '⇥ ');
}

export function Editor(props: {
  api: Api;
  settings: Settings;
  doc: string;
  setDoc: (doc: string) => void;
  onInserted: (item: Inserted) => void;
  announce: (message: string) => void;
}) {
  const { api, settings, doc, setDoc, onInserted, announce } = props;
  const ref = useRef<HTMLTextAreaElement>(null);
  const wrapRef = useRef<HTMLDivElement>(null);
  const popupRef = useRef<HTMLDivElement>(null);
  const [popup, setPopup] = useState<Popup | null>(null);
  const controllers = useRef<AbortController[]>([]);
  const session = useRef(0);
  const tabLeaves = useRef(false);
  const pendingCaret = useRef<number | null>(null);

  const close = (): void => {
    for (const c of controllers.current) c.abort();
    controllers.current = [];
    session.current++;
    setPopup(null);
  };

  useEffect(() => () => close(), []);

  useLayoutEffect(() => {
    const el = ref.current;
    if (el && pendingCaret.current !== null) {
      el.focus();
      el.setSelectionRange(pendingCaret.current, pendingCaret.current);
      pendingCaret.current = null;
    }
  }, [doc]);

  useEffect(() => {
    popupRef.current?.scrollIntoView?.({ block: 'nearest' });
  }, [popup?.session]);

  async function suggest(more: boolean): Promise<void> {
    const el = ref.current;
    if (!el) return;
    const adding = more && popup !== null;
    if (!adding) close();
    const mySession = adding ? popup.session : session.current;
    const start = adding ? popup.start : el.selectionStart;
    const end = adding ? popup.end : el.selectionEnd;
    const context = adding ? popup.context : el.value.slice(0, start);
    const base = adding ? popup.items.length : 0;
    if (!adding) {
      const wrap = wrapRef.current!;
      const pt = caretPoint(el, start);
      const width = Math.min(POPUP_WIDTH, wrap.clientWidth - 8);
      const top = el.offsetTop + Math.max(0, Math.min(pt.top, el.clientHeight - pt.lineHeight)) + pt.lineHeight + 6;
      const left = el.offsetLeft + Math.max(4, Math.min(pt.left - 12, wrap.clientWidth - width - 4));
      setPopup({ session: mySession, top, left, start, end, context, items: [], selected: 0, pending: 0, error: null });
    }
    setPopup((p) => (p && p.session === mySession ? { ...p, items: [...p.items, ...Array.from({ length: PER_REQUEST }, () => ({ text: '', done: false }))], pending: p.pending + 1, error: null } : p));
    announce(adding ? 'Loading three more suggestions…' : 'Loading suggestions…');
    const controller = new AbortController();
    controllers.current.push(controller);
    const update = (f: (p: Popup) => Popup): void => setPopup((p) => (p && p.session === mySession ? f(p) : p));
    try {
      for await (const ev of api.suggest(
        {
          context,
          ...(settings.model ? { model: settings.model } : {}),
          length: settings.length,
          temperature: settings.temperature,
          top_k: settings.topK,
          top_p: settings.topP,
          n: PER_REQUEST,
          ...(settings.watermark ? { watermark: true } : {}),
        },
        controller.signal,
      )) {
        if (ev.type === 'delta') update((p) => ({ ...p, items: p.items.map((it, i) => (i === base + ev.index ? { ...it, text: it.text + ev.text } : it)) }));
        else if (ev.type === 'done') update((p) => ({ ...p, items: p.items.map((it, i) => (i === base + ev.index ? { ...it, done: true } : it)) }));
      }
      update((p) => ({ ...p, pending: p.pending - 1, items: p.items.map((it, i) => (i >= base && i < base + PER_REQUEST ? { ...it, done: true } : it)) }));
      announce(`${PER_REQUEST} suggestions ready. Use the arrow keys and Enter to insert one.`);
    } catch (err) {
      if (controller.signal.aborted) return;
      const message = (err as Error).message;
      update((p) => ({ ...p, pending: p.pending - 1, items: p.items.slice(0, base).concat(p.items.slice(base + PER_REQUEST)), error: message }));
      announce(`Suggestions failed: ${message}`);
    } finally {
      controllers.current = controllers.current.filter((c) => c !== controller);
    }
  }

  function insert(index: number): void {
    if (!popup) return;
    const item = popup.items[index];
    if (!item || item.text === '') return;
    // A textarea turns \r\n and \r into \n; do it here so the document state matches what is shown.
    const text = item.text.replace(/\r\n?/g, '\n');
    const { start, end, context } = popup;
    close();
    pendingCaret.current = start + text.length;
    setDoc(doc.slice(0, start) + text + doc.slice(end));
    onInserted({ key: `${Date.now()}-${index}`, prompt: context, text, rating: null });
    announce('Suggestion inserted. Rate it in the Feedback panel.');
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>): void {
    const plainTab = e.key === 'Tab' && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey;
    if (plainTab) {
      if (tabLeaves.current && !popup) {
        tabLeaves.current = false;
        return;
      }
      e.preventDefault();
      void suggest(popup !== null);
      return;
    }
    tabLeaves.current = false;
    if (e.key === 'Escape') {
      if (popup) {
        e.preventDefault();
        close();
        announce('Suggestions closed.');
      } else {
        tabLeaves.current = true;
        announce('Press Tab to leave the editor.');
      }
      return;
    }
    if (!popup) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = popup.items.length;
      if (n > 0) setPopup({ ...popup, selected: (popup.selected + (e.key === 'ArrowDown' ? 1 : n - 1)) % n });
    } else if (e.key === 'Enter') {
      e.preventDefault();
      insert(popup.selected);
    } else if (!['Shift', 'Control', 'Alt', 'Meta'].includes(e.key)) {
      close();
    }
  }

  const optionId = (i: number): string => `suggestion-${i}`;
  return (
    <div className="editor" ref={wrapRef}>
      <label htmlFor="doc" className="sr-only">
        Your text
      </label>
      <textarea
        id="doc"
        ref={ref}
        value={doc}
        spellCheck
        placeholder={'Start writing, then press Tab for suggestions.\n\nTry: “Fellow citizens of the Senate and House of Representatives,”'}
        onChange={(e) => {
          setDoc(e.target.value);
          if (popup) close();
        }}
        onKeyDown={onKeyDown}
        onMouseDown={() => popup && close()}
        aria-describedby="editor-help"
        aria-autocomplete="list"
        aria-expanded={popup !== null}
        aria-controls={popup ? 'suggestions' : undefined}
        aria-activedescendant={popup && popup.items.length > 0 ? optionId(popup.selected) : undefined}
      />
      {popup && (
        <div className="popup" ref={popupRef} style={{ top: popup.top, left: popup.left, width: Math.min(POPUP_WIDTH, (wrapRef.current?.clientWidth ?? POPUP_WIDTH) - 8) }}>
          <ul id="suggestions" role="listbox" aria-label="Suggested continuations">
            {popup.items.map((it, i) => (
              <li
                key={i}
                id={optionId(i)}
                role="option"
                aria-selected={i === popup.selected}
                className={`suggestion${i === popup.selected ? ' selected' : ''}${it.done ? '' : ' streaming'}`}
                onMouseDown={(e) => e.preventDefault()}
                onMouseMove={() => setPopup((p) => (p && p.selected !== i ? { ...p, selected: i } : p))}
                onClick={() => insert(i)}
              >
                <span className="ellipsis">…</span>
                {it.text === '' && it.done ? <em className="muted">(the model ended the text here)</em> : visible(it.text)}
                {!it.done && <span className="cursor" aria-hidden="true" />}
              </li>
            ))}
          </ul>
          {popup.error && (
            <p className="popup-error" role="alert">
              {popup.error}
            </p>
          )}
          <p className="popup-help">
            <span className="wide-only">
              <kbd>↑</kbd>
              <kbd>↓</kbd> choose ·{' '}
            </span>
            <kbd>Enter</kbd> insert · <kbd>Tab</kbd> 3 more · <kbd>Esc</kbd> close
          </p>
        </div>
      )}
      <div className="editor-bar">
        <button
          type="button"
          className="primary"
          onMouseDown={(e) => e.preventDefault()}
          onClick={() => {
            ref.current?.focus();
            void suggest(popup !== null);
          }}
        >
          <SparkleIcon /> {popup ? 'Suggest 3 more' : 'Suggest'} <kbd>Tab</kbd>
        </button>
        <span id="editor-help" className="muted small">
          Suggestions continue the text before the caret. <kbd>Esc</kbd> then <kbd>Tab</kbd> leaves the editor.
        </span>
      </div>
    </div>
  );
}
