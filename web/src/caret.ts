// Where the caret of a textarea is on screen. A textarea does not expose it, so a hidden mirror
// element with the same box and typography lays out the text before the caret, and a marker span
// at the caret gives the coordinates.

const COPIED = [
  'boxSizing', 'width', 'borderTopWidth', 'borderRightWidth', 'borderBottomWidth', 'borderLeftWidth',
  'paddingTop', 'paddingRight', 'paddingBottom', 'paddingLeft', 'fontFamily', 'fontSize', 'fontWeight',
  'fontStyle', 'fontVariant', 'letterSpacing', 'lineHeight', 'textTransform', 'wordSpacing', 'textIndent',
  'tabSize', 'overflowWrap', 'wordBreak',
] as const;

export interface CaretPoint {
  /** Relative to the textarea's top-left corner, after scrolling. */
  top: number;
  left: number;
  lineHeight: number;
}

export function caretPoint(el: HTMLTextAreaElement, position: number): CaretPoint {
  const style = getComputedStyle(el);
  const mirror = document.createElement('div');
  const m = mirror.style;
  for (const prop of COPIED) m[prop] = style[prop];
  m.position = 'absolute';
  m.visibility = 'hidden';
  m.whiteSpace = 'pre-wrap';
  m.top = '0';
  m.left = '-9999px';
  m.overflow = 'hidden';
  m.height = 'auto';
  mirror.textContent = el.value.slice(0, position);
  const marker = document.createElement('span');
  marker.textContent = '\u200b';
  mirror.appendChild(marker);
  document.body.appendChild(mirror);
  const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.4;
  const point = { top: marker.offsetTop - el.scrollTop, left: marker.offsetLeft - el.scrollLeft, lineHeight };
  mirror.remove();
  return point;
}
