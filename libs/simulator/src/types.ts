export interface SimulatorOptions {
  /** @default 0 (an ephemeral port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * Keys the simulator accepts as `Authorization: Bearer <key>` or Azure's `api-key: <key>`; when set, any other key
   * gets a 401 (OpenAI's invalid_api_key, or Azure's on Azure paths). A plain string is a key with the default
   * organization and project. @default undefined (any key accepted)
   */
  acceptedKeys?: Array<string | AcceptedKey>;
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
  setAcceptedKeys(keys: Array<string | AcceptedKey> | undefined): void;
  /** Every call received, oldest first (a copy). */
  calls(): SimulatorCall[];
  /** Clears faults, calls and config; accepted keys and scripted faults go back to the start options. */
  reset(): void;
  /** Stops listening and destroys open sockets, hung requests included. */
  close(): Promise<void>;
}

/** An accepted key, with whom it answers for and how the call records name it. */
export interface AcceptedKey {
  key: string;
  /** What `SimulatorCall.keyLabel` says for this key. @default keyFingerprint(key) */
  label?: string;
  /** Sent as `openai-organization` on this key's responses, and named in its rate-limit messages. @default 'org-simulator' */
  organization?: string;
  /** Sent as `openai-project` on this key's responses. @default 'proj_simulator' */
  project?: string;
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
  /**
   * Prompt tokens reported as cached (`prompt_tokens_details.cached_tokens`, and the Responses API's
   * `input_tokens_details.cached_tokens`): an integer is a count of tokens, a number below 1 a share of the
   * prompt (rounded down); never more than the prompt. @default 0
   */
  cachedPromptTokens: number;
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
  | 'truncated_body' // 200 whose body stops half-way: complete HTTP framing, invalid JSON
  | 'response_failed' // Responses API: a 200 of status 'failed' (streams: after 2 deltas); streamed chat: an error event; else a 500
  | 'content_filter'; // Azure's 400 content_filter, with its innererror

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
   * Streaming: destroy the socket after N chunks (on the Responses API, N text deltas). With an error (a `status` or
   * an error preset), the error comes after N chunks as an in-stream `data: {"error": …}` event instead, as OpenAI
   * sends one (on the Responses API, as a `response.failed` event).
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
  /** The Responses API's. */
  max_output_tokens?: number | null;
}

/** What a call asked for, whatever its path (OpenAI's, or Azure's). */
export type Endpoint = 'chat.completions' | 'embeddings' | 'responses' | 'models.list' | 'models.retrieve';

/** How a key came: `Authorization: Bearer <key>`, or Azure's `api-key: <key>`. */
export type AuthStyle = 'bearer' | 'api-key';

export interface SimulatorCall {
  /** 1, 2, 3… in order of arrival. */
  seq: number;
  method: string;
  /** Without the query string. */
  path: string;
  /** Undefined for a path the simulator does not serve. */
  endpoint?: Endpoint;
  /** 'azure' for paths under /openai/ (Azure OpenAI's), else 'openai'. */
  api: 'openai' | 'azure';
  /** Azure's /openai/deployments/{deployment}/… paths: the deployment, which stands for the model. */
  deployment?: string;
  /** The `api-version` query, as sent. */
  apiVersion?: string;
  /** The model as requested, `:fault=` suffix included (on Azure's deployment paths, the deployment; on models.retrieve, the id). */
  model?: string;
  stream: boolean;
  /** The completion limits a chat or Responses request named, as received: what the client asked the model to write at most. */
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
  /** Whether the key was accepted (the key itself is never stored). */
  authorized: boolean;
  /** How the key came; undefined when none came. */
  auth?: AuthStyle;
  /** The accepted key's `label`, else `keyFingerprint(key)`; undefined when no key came. */
  keyLabel?: string;
  /** Whom the key answers for, as sent in `openai-organization` and `openai-project`. */
  organization: string;
  project: string;
}
