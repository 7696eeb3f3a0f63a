// Errors as OpenAI's API returns them: `{ error: { message, type, param, code } }`, where `param`
// names the offending request field so clients (and people) can fix the request.

import type { ErrorBody } from './wire.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: string = errorType(status),
    /** Extra response headers (e.g. Retry-After for 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

export const badRequest = (message: string, param: string | null, code: string | null = null): ApiError => new ApiError(400, message, param, code);

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  parentSchema?: { description?: string };
}

/** `/messages/0/content` → `messages[0].content` (the way OpenAI names nested fields). */
export function paramName(instancePath: string, extra?: string): string | null {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? null : out;
}

/**
 * One readable error from Ajv's list. For a union (anyOf) Ajv reports every branch's failure and
 * then the union itself; the union's description says what is accepted, which is the useful message.
 */
export function validationError(errors: readonly AjvError[], where: string): ApiError {
  const union = [...errors].reverse().find((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const e = union ?? errors[0];
  if (!e) return badRequest(`invalid request ${where}`, null);
  const described = e.parentSchema?.description;
  switch (e.keyword) {
    case 'required': {
      const name = paramName(e.instancePath, String(e.params['missingProperty']));
      return badRequest(`Missing required parameter: '${name}'.`, name, 'missing_required_parameter');
    }
    case 'additionalProperties': {
      const name = paramName(e.instancePath, String(e.params['additionalProperty']));
      return badRequest(`Unrecognized request argument supplied: ${name}`, name, 'unknown_parameter');
    }
    default: {
      const name = paramName(e.instancePath);
      const subject = name === null ? `the request ${where}` : `'${name}'`;
      const message =
        union && described
          ? `Invalid value for ${subject}: expected ${described}.`
          : `Invalid value for ${subject}: ${described ? `expected ${described}` : (e.message ?? 'invalid')}.`;
      return badRequest(message, name, e.keyword === 'type' ? 'invalid_type' : 'invalid_value');
    }
  }
}
