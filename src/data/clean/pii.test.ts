import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sotuSource } from '../corpus.ts';
import { defaultPiiConfig, scrubPii } from './pii.ts';

test('e-mail addresses become <EMAIL>', () => {
  const r = scrubPii('Write to jane.doe+lists@mail.example.co.uk or <bob_smith@example.org>, not to @handles or user@localhost.');
  assert.equal(r.text, 'Write to <EMAIL> or <<EMAIL>>, not to @handles or user@localhost.');
  assert.deepEqual(r.counts, { email: 2, phone: 0, ip: 0 });
});

test('phone numbers with separators become <PHONE>; years, sums and counts stay', () => {
  const r = scrubPii('Call (555) 123-4567, 555.123.4567, +1 555 123 4567 or +44 20 7946 0958 today.');
  assert.equal(r.text, 'Call <PHONE>, <PHONE>, <PHONE> or <PHONE> today.');
  assert.equal(r.counts.phone, 4);
  const prose = 'In 1941 we spent $1,234,567 on 250 000 rifles; from 1990-1995 output rose 12.5 percent, and 5551234567 is no number.';
  assert.equal(scrubPii(prose).text, prose);
});

test('IPv4 (octets <= 255) and IPv6 addresses become <IP>; versions and times stay', () => {
  const r = scrubPii('from [193.120.211.219] via 10.0.0.1 and 2001:db8:85a3::8a2e:370:7334 at 13:40:29 with sendmail 8.11.6/8.11.6, not 300.1.1.1');
  assert.equal(r.text, 'from [<IP>] via <IP> and <IP> at 13:40:29 with sendmail 8.11.6/8.11.6, not 300.1.1.1');
  assert.equal(r.counts.ip, 3);
});

test('each kind can be switched off and placeholders changed', () => {
  const c = defaultPiiConfig();
  c.email = false;
  c.placeholders.ip = '[ip]';
  const r = scrubPii('a@b.com 1.2.3.4', c);
  assert.equal(r.text, 'a@b.com [ip]');
  assert.equal(scrubPii('a@b.com', { ...c, enabled: false }).text, 'a@b.com');
});

test('the State of the Union speeches contain nothing the PII patterns match', async () => {
  let found = 0;
  for await (const d of sotuSource().documents()) {
    const r = scrubPii(d.text);
    found += r.counts.email + r.counts.phone + r.counts.ip;
  }
  assert.equal(found, 0);
});
