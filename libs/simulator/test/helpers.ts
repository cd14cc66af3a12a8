import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { RunningSimulator } from '@tollgate/simulator';

export const MESSAGES = [{ role: 'user' as const, content: 'Say hello' }];

export function clientFor(sim: RunningSimulator, apiKey = 'sk-test'): OpenAI {
  return new OpenAI({ apiKey, baseURL: sim.url, maxRetries: 0 });
}

/** The simulator's origin, for raw requests outside /v1. */
export function originOf(sim: RunningSimulator): string {
  return sim.url.replace(/\/v1$/, '');
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Polls until `read` returns something other than undefined (state changes that follow a socket event). */
export async function eventually<T>(read: () => T | undefined, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The rejection of `promise`, failing the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Every chunk (or event) of a stream, read to its end. */
export async function collect<T = ChatCompletionChunk>(stream: AsyncIterable<T>): Promise<T[]> {
  const chunks: T[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** What a stream gave before it failed, and how it failed (undefined if it did not). */
export async function collectUntilFailure<T>(stream: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of stream) items.push(item);
    return { items, error: undefined };
  } catch (error) {
    return { items, error };
  }
}
