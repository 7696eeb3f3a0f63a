// The app's icons, drawn as inline SVG so they ship with it: emoji need a colour-emoji font, and
// where none is installed (Debian's Chromium without fonts-noto-color-emoji) they render as empty
// boxes. The icons take the text colour and size (1em) of where they sit.

import type { ReactNode } from 'react';

interface IconProps {
  /** Accessible name. Without one the icon is decoration beside a labelled control (aria-hidden). */
  label?: string;
}

function Icon(props: IconProps & { name: string; children: ReactNode }) {
  const { label, name, children } = props;
  const a11y = label ? { role: 'img', 'aria-label': label } : { 'aria-hidden': true };
  return (
    <svg className={`icon icon-${name}`} viewBox="0 0 24 24" width="1em" height="1em" focusable="false" {...a11y}>
      {label ? <title>{label}</title> : null}
      {children}
    </svg>
  );
}

/** A raised thumb on a hand, with the sleeve cuff at the left (thumb-up; mirrored for thumb-down). */
const THUMB = 'M7 10.5 10.4 3.6c.5-1 2.3-.8 2.4.6l-.5 4.8h6.3c1.4 0 2.3 1.3 2 2.6l-1.8 7.6c-.3 1.1-1.2 1.8-2.3 1.8H7Z';

function Thumb(props: { down: boolean }) {
  return (
    <g fill="none" stroke="currentColor" strokeWidth={1.8} strokeLinejoin="round" transform={props.down ? 'matrix(1 0 0 -1 0 24)' : undefined}>
      <rect x={2.5} y={10.5} width={4.5} height={10.5} rx={1} />
      <path d={THUMB} />
    </g>
  );
}

export function ThumbUpIcon(props: IconProps) {
  return (
    <Icon name="thumb-up" {...props}>
      <Thumb down={false} />
    </Icon>
  );
}

export function ThumbDownIcon(props: IconProps) {
  return (
    <Icon name="thumb-down" {...props}>
      <Thumb down />
    </Icon>
  );
}

/** A four-pointed star with a small one beside it: "make something new". */
export function SparkleIcon(props: IconProps) {
  return (
    <Icon name="sparkle" {...props}>
      <path fill="currentColor" d="M10 3c.7 4.6 2.4 6.3 7 7-4.6.7-6.3 2.4-7 7-.7-4.6-2.4-6.3-7-7 4.6-.7 6.3-2.4 7-7Z" />
      <path fill="currentColor" d="M18.5 14c.3 2 1 2.7 3 3-2 .3-2.7 1-3 3-.3-2-1-2.7-3-3 2-.3 2.7-1 3-3Z" />
    </Icon>
  );
}
