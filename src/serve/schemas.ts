// JSON Schemas of every request body. Fastify validates bodies with them before a handler runs
// (types are never coerced: "5" is not 5), and errors.ts turns the first failure into an
// OpenAI-style error naming the field. Each constraint carries a description, which becomes the
// error message ("expected an integer from 1 to 8"). Limits that depend on the server's
// configuration (max_tokens, n) are part of the schema, so they are enforced in one place.
// The app's bodies are built with bodySchema from their wire types, so schema and type name the
// same fields.

import type { ServeLimits } from './limits.ts';
import type { AnalyzeRequest, AutocompleteRequest, DetectRequest, FeedbackRequest } from './wire.ts';

type Schema = Record<string, unknown>;

/** Every field of every member of T (`keyof` a union gives only the shared ones). */
type Fields<T> = T extends unknown ? keyof T : never;

/** The fields T may not leave out. */
type RequiredFields<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

/**
 * The JSON Schema of a request body whose wire type is T: `properties` must name exactly T's fields
 * and `required` exactly its required ones, so a field added, renamed or dropped in the type and
 * not in the schema (or the other way round) fails the type-check. Unknown fields are refused.
 */
export function bodySchema<T>() {
  return <const R extends readonly RequiredFields<T>[]>(
    properties: Record<Fields<T>, Schema>,
    required: R & ([Exclude<RequiredFields<T>, R[number]>] extends [never] ? unknown : { missingRequired: Exclude<RequiredFields<T>, R[number]> }),
    more: Schema = {},
  ): Schema => ({ type: 'object', additionalProperties: false, required, properties, ...more });
}

const nullable = (types: string | string[]): string[] => [...(Array.isArray(types) ? types : [types]), 'null'];

const int = (min: number, max: number, what = `an integer from ${min} to ${max}`): Schema => ({
  type: nullable('integer'),
  minimum: min,
  maximum: max,
  description: what,
});

const num = (min: number, max: number): Schema => ({ type: nullable('number'), minimum: min, maximum: max, description: `a number from ${min} to ${max}` });

const bool: Schema = { type: nullable('boolean'), description: 'true or false' };

const str = (maxLength: number, minLength = 0): Schema => ({
  type: 'string',
  minLength,
  maxLength,
  description: minLength > 0 ? `a non-empty string of at most ${maxLength} characters` : `a string of at most ${maxLength} characters`,
});

/** 64-bit seeds are accepted as OpenAI does; only their low 32 bits seed the sampler. */
const seed: Schema = { type: nullable('integer'), minimum: -9223372036854775808, maximum: 9223372036854775807, description: 'a 64-bit integer' };

const stop: Schema = {
  anyOf: [
    { type: 'string', maxLength: 256 },
    { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 256 } },
    { type: 'null' },
  ],
  description: 'a string or an array of at most 4 strings, each of at most 256 characters',
};

const streamOptions: Schema = {
  anyOf: [{ type: 'object', additionalProperties: false, properties: { include_usage: { type: 'boolean' } } }, { type: 'null' }],
  description: 'an object { include_usage: boolean } or null',
};

/** Fields OpenAI clients commonly send with neutral values; non-neutral values are refused in the handler. */
const compatFields = (limits: ServeLimits): Schema => ({
  user: str(256),
  presence_penalty: num(-2, 2),
  frequency_penalty: num(-2, 2),
  logit_bias: { type: nullable('object'), maxProperties: 300, description: 'an object mapping token ids to biases' },
  best_of: int(1, limits.maxN),
});

const model: Schema = { type: 'string', minLength: 1, maxLength: 256, description: 'a model id from GET /v1/models' };

/**
 * Watermark the generated text (Kirchenbauer et al. 2023): true for γ 0.25, δ 2, or an object
 * choosing them. The key is the server's; `properties` apply only when the value is an object, so
 * a bad γ is reported as 'watermark.gamma'.
 */
const watermark: Schema = {
  type: ['boolean', 'object', 'null'],
  additionalProperties: false,
  properties: {
    gamma: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'a number between 0 and 1 (exclusive): the green share of the vocabulary (0.25 is usual)' },
    delta: { type: 'number', minimum: 0, maximum: 10, description: 'a number from 0 to 10: the logit bias of green tokens (2 is usual)' },
  },
  description: 'true, false, or an object { gamma?, delta? }',
};

export function completionSchema(limits: ServeLimits): Schema {
  const ids = { type: 'array', minItems: 1, maxItems: limits.maxContext, items: { type: 'integer', minimum: 0, maximum: 2 ** 31 } };
  return {
    type: 'object',
    additionalProperties: false,
    required: ['model', 'prompt'],
    properties: {
      model,
      prompt: {
        anyOf: [
          { type: 'string', maxLength: limits.maxPromptChars },
          { type: 'array', minItems: 1, maxItems: limits.maxN, items: { type: 'string', maxLength: limits.maxPromptChars } },
          ids,
          { type: 'array', minItems: 1, maxItems: limits.maxN, items: ids },
        ],
        description: `a string, an array of strings, an array of token ids, or an array of token-id arrays (at most ${limits.maxN} prompts)`,
      },
      max_tokens: int(0, limits.maxTokens),
      temperature: num(0, 2),
      top_p: num(0, 1),
      top_k: int(-1, 1_000_000, 'an integer >= 0 (0 or -1 disables top-k)'),
      n: int(1, limits.maxN),
      stop,
      seed,
      echo: bool,
      logprobs: int(0, limits.maxTopLogprobs),
      stream: bool,
      stream_options: streamOptions,
      suffix: { type: nullable('string'), maxLength: 0, description: 'null (suffixes are not supported)' },
      watermark,
      ...compatFields(limits),
    },
  };
}

const contentPart: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'text'],
  properties: { type: { const: 'text', description: "'text' (only text content is supported)" }, text: { type: 'string' } },
};

export function chatSchema(limits: ServeLimits): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['model', 'messages'],
    properties: {
      model,
      messages: {
        type: 'array',
        minItems: 1,
        maxItems: 1000,
        description: 'a non-empty array of at most 1000 messages',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['role', 'content'],
          properties: {
            role: { enum: ['system', 'developer', 'user', 'assistant'], description: "one of 'system', 'developer', 'user', 'assistant'" },
            content: {
              anyOf: [{ type: 'string', maxLength: limits.maxPromptChars }, { type: 'array', maxItems: 100, items: contentPart }],
              description: "a string or an array of { type: 'text', text } parts",
            },
            name: str(64),
          },
        },
      },
      max_tokens: int(1, limits.maxTokens),
      max_completion_tokens: int(1, limits.maxTokens),
      temperature: num(0, 2),
      top_p: num(0, 1),
      top_k: int(-1, 1_000_000, 'an integer >= 0 (0 or -1 disables top-k)'),
      n: int(1, limits.maxN),
      stop,
      seed,
      logprobs: bool,
      top_logprobs: int(0, limits.maxTopLogprobs),
      stream: bool,
      stream_options: streamOptions,
      response_format: {
        anyOf: [{ type: 'object', additionalProperties: false, required: ['type'], properties: { type: { const: 'text' } } }, { type: 'null' }],
        description: "{ type: 'text' } (structured output is not supported)",
      },
      watermark,
      ...compatFields(limits),
    },
  };
}

const appModel: Schema = { ...model, description: 'a model id from GET /v1/models (default: the first served model)' };

export function autocompleteSchema(limits: ServeLimits): Schema {
  return bodySchema<AutocompleteRequest>()(
    {
      context: { type: 'string', maxLength: limits.maxPromptChars, description: `a string of at most ${limits.maxPromptChars} characters` },
      model: appModel,
      length: int(1, limits.maxTokens),
      temperature: num(0, 2),
      top_k: int(0, 1_000_000, 'an integer >= 0 (0 disables top-k)'),
      top_p: num(0, 1),
      n: int(1, limits.maxN),
      seed,
      stop,
      stream: bool,
      watermark,
    },
    ['context'],
  );
}

export function analyzeSchema(limits: ServeLimits): Schema {
  return bodySchema<AnalyzeRequest>()(
    {
      text: { type: 'string', minLength: 1, maxLength: limits.maxPromptChars, description: `a non-empty string of at most ${limits.maxPromptChars} characters` },
      model: appModel,
      top_k: int(0, limits.maxTopLogprobs),
    },
    ['text'],
  );
}

export function detectSchema(limits: ServeLimits): Schema {
  return bodySchema<DetectRequest>()(
    {
      text: { type: 'string', minLength: 1, maxLength: limits.maxPromptChars, description: `a non-empty string of at most ${limits.maxPromptChars} characters` },
      model: appModel,
      gamma: { type: nullable('number'), exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'a number between 0 and 1 (exclusive): the γ the text was generated with (default 0.25)' },
    },
    ['text'],
  );
}

export function feedbackSchema(limits: ServeLimits): Schema {
  const text = str(limits.maxPromptChars);
  return bodySchema<FeedbackRequest>()(
    {
      kind: { enum: ['rating', 'preference'], description: "'rating' or 'preference'" },
      prompt: text,
      completion: text,
      rating: { enum: ['up', 'down'], description: "'up' or 'down'" },
      chosen: text,
      rejected: text,
      model: str(256),
      source: str(64),
      settings: {
        type: 'object',
        maxProperties: 32,
        additionalProperties: { type: ['number', 'string', 'boolean', 'null'], maxLength: 256 },
        description: 'an object of at most 32 settings (numbers, short strings, booleans)',
      },
    },
    ['kind', 'prompt'],
    {
      allOf: [
        { if: { properties: { kind: { const: 'rating' } } }, then: { required: ['completion', 'rating'] } },
        { if: { properties: { kind: { const: 'preference' } } }, then: { required: ['chosen', 'rejected'] } },
      ],
    },
  );
}
