// PII scrubbing: e-mail addresses, phone numbers and IP addresses are replaced by placeholders, so
// a model cannot memorise and later emit them. The patterns trade recall for precision on prose:
// phone numbers need separators ("555-123-4567", "(555) 123 4567", "+44 20 7946 0958") so that
// years, sums and counts in ordinary text are never touched; IPv4 octets must be <= 255.

export interface PiiConfig {
  enabled: boolean;
  email: boolean;
  phone: boolean;
  ip: boolean;
  placeholders: { email: string; phone: string; ip: string };
}

export function defaultPiiConfig(): PiiConfig {
  return { enabled: true, email: true, phone: true, ip: true, placeholders: { email: '<EMAIL>', phone: '<PHONE>', ip: '<IP>' } };
}

export interface PiiCounts {
  email: number;
  phone: number;
  ip: number;
}

const EMAIL = /(?<![\w.%+-])[A-Za-z0-9][\w.%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])/g;
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?!\\.?\\d)(?!\\w)`, 'g');
/** Full or "::"-compressed IPv6; candidates are checked in code (see isIpv6). */
const IPV6 = /(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])/g;
/** North American numbers with separators, optionally +1. */
const PHONE_NANP = /(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w-])/g;
/** International numbers: "+" country code, then groups of digits separated by spaces, dots or dashes. */
const PHONE_INTL = /(?<![\w+])\+\d{1,3}(?:[ .-]\(?\d{1,4}\)?){2,5}(?![\w-])/g;

function isIpv6(s: string): boolean {
  const groups = s.split(':');
  if (!/\d/.test(s)) return false;
  const compressed = s.includes('::');
  if (!compressed && groups.length !== 8) return false;
  if (compressed && (s.match(/::/g) ?? []).length !== 1) return false;
  const nonEmpty = groups.filter((g) => g !== '');
  return nonEmpty.length >= 2 && nonEmpty.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g));
}

function digitCount(s: string): number {
  return (s.match(/\d/g) ?? []).length;
}

/** Replaces PII in `text`; counts what was replaced. */
export function scrubPii(text: string, c: PiiConfig = defaultPiiConfig()): { text: string; counts: PiiCounts } {
  const counts: PiiCounts = { email: 0, phone: 0, ip: 0 };
  if (!c.enabled) return { text, counts };
  let t = text;
  if (c.email && t.includes('@')) {
    t = t.replace(EMAIL, () => {
      counts.email++;
      return c.placeholders.email;
    });
  }
  if (c.ip) {
    t = t.replace(IPV4, () => {
      counts.ip++;
      return c.placeholders.ip;
    });
    if (t.includes(':')) {
      t = t.replace(IPV6, (m) => {
        if (!isIpv6(m)) return m;
        counts.ip++;
        return c.placeholders.ip;
      });
    }
  }
  if (c.phone) {
    t = t.replace(PHONE_INTL, (m) => {
      const n = digitCount(m);
      if (n < 7 || n > 15) return m;
      counts.phone++;
      return c.placeholders.phone;
    });
    t = t.replace(PHONE_NANP, () => {
      counts.phone++;
      return c.placeholders.phone;
    });
  }
  return { text: t, counts };
}
