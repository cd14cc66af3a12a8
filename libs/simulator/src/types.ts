export interface SimulatorOptions {
  /** @default 0 (an ephemeral port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * Keys the simulator accepts as `Authorization: Bearer <key>`; when set, any other key
   * gets OpenAI's 401 invalid_api_key. @default undefined (any key accepted)
   */
  acceptedKeys?: string[];
  /** Seed for the random-fault generator. @default 1 */
  seed?: number;
  /**
   * Faults scripted from the start, queued in order as `enqueueFaults` queues them; `reset()` queues them again.
   * @default [] (every call answered normally)
   */
  faults?: SimulatedFault[];
}

export interface RunningSimulator {
  /** Base URL ending in /v1 (what an OpenAI client takes as baseURL). */
  readonly url: string;
  readonly port: number;
  /** Queues faults, first in first out; each is consumed by the next matching call(s). */
  enqueueFaults(...faults: SimulatedFault[]): void;
  /** Merges into the current config. */
  configure(config: Partial<SimulatorConfig>): void;
  setAcceptedKeys(keys: string[] | undefined): void;
  /** Every call received, oldest first (a copy). */
  calls(): SimulatorCall[];
  /** Clears faults, calls and config; accepted keys and scripted faults go back to the start options. */
  reset(): void;
  /** Stops listening and destroys open sockets, hung requests included. */
  close(): Promise<void>;
}

export interface SimulatorConfig {
  /** Delay before every response's headers. @default 0 */
  latencyMs: number;
  /** Delay between streamed chunks. @default 0 */
  chunkIntervalMs: number;
  /** Fraction (0..1) of calls that get a random fault, for load tests. @default 0 */
  randomFaultRate: number;
  /** Presets drawn from for random faults. @default ['server_error','overloaded','rate_limit_exceeded'] */
  randomFaults: FaultPreset[];
  /** Words in a completion when the request has no max_tokens. @default 12 */
  completionWords: number;
}

export type FaultPreset =
  | 'rate_limit_exceeded' // 429 on requests per minute, with retry-after
  | 'request_too_large' // 429 on tokens per minute
  | 'insufficient_quota' // 429, billing
  | 'context_length_exceeded' // 400
  | 'bad_request' // 400
  | 'invalid_api_key' // 401
  | 'permission_denied' // 403
  | 'model_not_found' // 404
  | 'request_timeout' // 408
  | 'conflict' // 409
  | 'server_error' // 500
  | 'bad_gateway' // 502
  | 'overloaded' // 503
  | 'hang' // accept the request and never answer
  | 'reset' // destroy the socket without any response
  | 'mid_stream_failure' // streaming: 2 chunks then a destroyed socket; otherwise like reset
  | 'echo_auth' // 400 whose message repeats the request's Authorization header and a key-shaped token
  | 'truncated_body'; // 200 whose body stops half-way: complete HTTP framing, invalid JSON

export interface SimulatedFault {
  preset?: FaultPreset;
  /** Any status with OpenAI's error body for it (overrides the preset's). */
  status?: number;
  code?: string;
  type?: string;
  message?: string;
  param?: string | null;
  /** Sent verbatim as retry-after. */
  retryAfter?: string;
  /** Sent as retry-after-ms. */
  retryAfterMs?: number;
  headers?: Record<string, string>;
  /** Delay before this response. */
  latencyMs?: number;
  /** Streaming delay for this response. */
  chunkIntervalMs?: number;
  /**
   * Streaming: destroy the socket after N chunks. With an error (a `status` or an error preset),
   * the error comes after N chunks as an in-stream `data: {"error": …}` event instead, as OpenAI sends one.
   */
  failAfterChunks?: number;
  /** Only calls for this model consume the fault. */
  match?: { model?: string };
  /** How many matching calls consume it. @default 1 */
  times?: number;
}

export interface CompletionLimits {
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
}

export interface SimulatorCall {
  /** 1, 2, 3… in order of arrival. */
  seq: number;
  method: string;
  path: string;
  model?: string;
  stream: boolean;
  /** The completion limits a chat request named, as received: what the client asked the model to write at most. */
  completionLimits?: CompletionLimits;
  /** ms, the simulator's clock (Date.now()). */
  receivedAt: number;
  /** The preset or `status:NNN` applied, if any. */
  fault?: string;
  /** Status sent, if any. */
  status?: number;
  /** The client closed the connection before the response was complete. */
  aborted: boolean;
  /** When the response completed or the client went away. */
  finishedAt?: number;
  /** Whether the bearer key was accepted (the key itself is never stored). */
  authorized: boolean;
}
