import { UpstreamClient } from '@tollgate/ai';
import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { createGateway } from '../src/create-gateway';
import { GatewayUnderTest, rejectionOf, startGatewayWithSimulator } from './support/gateway-harness';

type Body = Record<string, unknown>;

const MAX_BODY_BYTES = 4 * 1024 * 1024;
// With a completion limit of its own: the library sends one upstream when the request names none.
const A_VALID_REQUEST = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }], max_completion_tokens: 20 };

describe('Request validation', () => {
  let gateway: GatewayUnderTest;
  let upstream: RecordingProxy;

  beforeAll(async () => {
    upstream = await startRecordingProxy();
    gateway = await startGatewayWithSimulator({ OPENAI_BASE_URL: upstream.url });
    upstream.forwardTo(gateway.simulator.url);
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });
  beforeEach(() => {
    gateway.simulator.reset();
    upstream.bodies.length = 0;
  });

  const post = (body: string | undefined, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${gateway.tenantKey}`, ...headers }, body });

  /** OpenAI's error shape, as JSON, and nothing sent upstream. */
  async function expectRefused(response: Response, status: number): Promise<{ message: string; param: string | null }> {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/json');
    const { error } = (await response.json()) as { error: Record<string, unknown> };
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toEqual(expect.any(String));
    expect(gateway.simulator.calls()).toHaveLength(0);
    return error as { message: string; param: string | null };
  }

  describe('bodies refused before validation', () => {
    it('should refuse a body over MAX_BODY_BYTES with 413, before parsing it, even valid JSON of 10 MB', async () => {
      const tenMegabytes = JSON.stringify({ ...A_VALID_REQUEST, messages: [{ role: 'user', content: 'x'.repeat(10_000_000) }] });

      const error = await expectRefused(await post(tenMegabytes), 413);

      expect(error.message).toContain(`${MAX_BODY_BYTES} bytes`);
    });

    it('should refuse a body one byte over the limit with 413 whatever it holds, as it is never parsed', async () => {
      await expectRefused(await post('{'.repeat(MAX_BODY_BYTES + 1)), 413);
    });

    it('should refuse a chunked body over the limit with 413 too', async () => {
      const chunks = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(1024 * 1024).fill(0x20));
          controller.close();
        },
      });

      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gateway.tenantKey}`, 'content-type': 'application/json' },
        body: chunks,
        duplex: 'half',
      } as RequestInit);

      await expectRefused(response, 413);
    });

    it.each([
      ['malformed JSON', '{"model": "gpt-4o-mini", "messages": [', 'could not parse'],
      ['a trailing comma', '{"model": "gpt-4o-mini",}', 'could not parse'],
      ['a JSON array', '[{"model": "gpt-4o-mini"}]', 'must be a JSON object'],
      ['a JSON string', '"hello"', 'must be a JSON object'],
      ['JSON null', 'null', 'must be a JSON object'],
      ['a __proto__ key', '{"__proto__": {"admin": true}, "model": "gpt-4o-mini"}', 'could not parse'],
      ['nesting 200 levels deep', `{"metadata": ${'['.repeat(200)}${']'.repeat(200)}}`, 'deeper than 128 levels'],
    ])('should refuse %s with 400 in OpenAI’s shape', async (_case, body, fragment) => {
      const error = await expectRefused(await post(body), 400);

      expect(error.message).toContain(fragment);
      expect(error.param).toBeNull();
    });

    it.each([
      ['text/plain', 'hello'],
      ['application/x-www-form-urlencoded', 'model=gpt-4o-mini'],
      ['multipart/form-data; boundary=x', '--x--'],
    ])('should refuse a %s body with 415 in OpenAI’s shape', async (contentType, body) => {
      const error = await expectRefused(await post(body, { 'content-type': contentType }), 415);

      expect(error.message).toContain('application/json');
    });

    it('should refuse a request without any body with 400 naming the first missing field', async () => {
      const error = await expectRefused(await post(undefined, {}), 400);

      expect(error.param).toBe('model');
    });

    // Many HTTP client wrappers send the header on every call: an empty body is no body, as without it.
    it('should refuse an empty body sent as application/json the same way, naming the first missing field', async () => {
      const error = await expectRefused(await post(''), 400);

      expect(error).toMatchObject({ param: 'model', message: expect.stringContaining("Missing required parameter: 'model'") });
    });

    it('should never answer with HTML or a stack trace', async () => {
      const response = await post('{"model": ');
      const text = await response.text();

      expect(text).not.toMatch(/<html|at \w+ \(|node_modules/i);
    });
  });

  describe('fields refused, each naming the field and what it takes (openai SDK)', () => {
    const tooManyPairs = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    const callTo = (id: string) => ({ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });

    it.each<[string, Body, string, string]>([
      ['an unknown top-level field', { foo: 1 }, 'foo', 'Allowed in the request: model, messages'],
      ['a field outside the allow-list', { functions: [] }, 'functions', 'store, reasoning_effort'],
      ['a field named after an inherited member', { valueOf: 1 }, 'valueOf', 'Allowed in the request: model, messages'],
      ['a message field named after an inherited member', { messages: [{ role: 'user', content: 'x', toString: 'y' }] }, 'messages[0].toString', 'role, content, name'],
      ['no model', { model: undefined }, 'model', 'Missing required parameter'],
      ['a numeric model', { model: 42 }, 'model', 'a model name'],
      ['no messages', { messages: undefined }, 'messages', 'Missing required parameter'],
      ['empty messages', { messages: [] }, 'messages', 'a non-empty array of messages'],
      ['a string for messages', { messages: 'hi' }, 'messages', 'a non-empty array of messages'],
      ['a null message', { messages: [null] }, 'messages[0]', 'a message object with a role'],
      ['an array as a message', { messages: [[]] }, 'messages[0]', 'a message object with a role'],
      ['an array as a content part', { messages: [{ role: 'user', content: [[{ type: 'text', text: 'a' }]] }] }, 'messages[0].content[0]', 'a content part object with a type'],
      ['an array as a tool call', { messages: [{ role: 'assistant', tool_calls: [[]] }] }, 'messages[0].tool_calls[0]', 'a tool call'],
      ['an array as a tool', { tools: [[]] }, 'tools[0]', 'a tool'],
      ['an unknown role', { messages: [{ role: 'function', content: 'x', name: 'f' }] }, 'messages[0].role', "'system', 'developer', 'user', 'assistant', 'tool'"],
      ['a message without a role', { messages: [{ content: 'x' }] }, 'messages[0].role', 'Missing required parameter'],
      ['a tool message without tool_call_id', { messages: [{ role: 'tool', content: '42' }] }, 'messages[0].tool_call_id', 'the tool call this message answers'],
      ['a field of another role', { messages: [{ role: 'user', content: 'x', tool_call_id: 'c1' }] }, 'messages[0].tool_call_id', "Allowed in 'messages[0]': role, content, name"],
      ['a numeric content', { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'a string or a non-empty array of content parts'],
      ['an empty content array', { messages: [{ role: 'user', content: [] }] }, 'messages[0].content', 'non-empty array'],
      ['an image in a system message', { messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 'messages[0].content[0].type', "'text'"],
      ['an image in a tool message', { messages: [{ role: 'tool', tool_call_id: 'c1', content: [{ type: 'image_url', image_url: { url: 'u' } }] }] }, 'messages[0].content[0].type', "'text'"],
      ['an unknown part type', { messages: [{ role: 'user', content: [{ type: 'video', video: {} }] }] }, 'messages[0].content[0].type', "'text', 'image_url', 'input_audio', 'file'"],
      ['a text part without text', { messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text', 'Missing required parameter'],
      ['an image part without url', { messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: {} }] }] }, 'messages[0].content[1].image_url.url', 'image URL'],
      ['an unknown image detail', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'u', detail: 'ultra' } }] }] }, 'messages[0].content[0].image_url.detail', "'auto', 'low' or 'high'"],
      ['an ogg audio part', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'ogg' } }] }] }, 'messages[0].content[0].input_audio.format', "'wav' or 'mp3'"],
      ['an unknown field of a part', { messages: [{ role: 'user', content: [{ type: 'text', text: 'a', cache: true }] }] }, 'messages[0].content[0].cache', 'type, text'],
      ['an assistant message without content or tool calls', { messages: [{ role: 'user', content: 'x' }, { role: 'assistant' }] }, 'messages[1].content', 'or null with tool_calls'],
      ['a tool call of another type', { messages: [{ role: 'assistant', tool_calls: [{ ...callTo('c1'), type: 'custom' }] }] }, 'messages[0].tool_calls[0].type', "'function'"],
      ['tool call arguments as an object', { messages: [{ role: 'assistant', tool_calls: [{ ...callTo('c1'), function: { name: 'f', arguments: {} } }] }] }, 'messages[0].tool_calls[0].function.arguments', 'a JSON string'],
      ['empty tool calls', { messages: [{ role: 'assistant', content: 'x', tool_calls: [] }] }, 'messages[0].tool_calls', 'a non-empty array of tool calls'],
      ['a temperature above 2', { temperature: 2.5 }, 'temperature', 'a number from 0 to 2'],
      ['a temperature as a string', { temperature: '1' }, 'temperature', 'a number from 0 to 2'],
      ['a top_p above 1', { top_p: 1.5 }, 'top_p', 'a number from 0 to 1'],
      ['n of 0', { n: 0 }, 'n', 'an integer from 1 to 128'],
      ['n of 129', { n: 129 }, 'n', 'an integer from 1 to 128'],
      ['max_tokens of 0', { max_tokens: 0 }, 'max_tokens', 'an integer from 1 to 2147483647'],
      ['a fractional max_completion_tokens', { max_completion_tokens: 1.5 }, 'max_completion_tokens', 'an integer from 1'],
      ['five stop sequences', { stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', 'a string or an array of 1 to 4 strings'],
      ['a numeric stop sequence', { stop: [1] }, 'stop', 'a string or an array of 1 to 4 strings'],
      ['empty tools', { tools: [] }, 'tools', 'an array of 1 to 128 tools'],
      ['a tool name with a space', { tools: [{ type: 'function', function: { name: 'ok' } }, { type: 'function', function: { name: 'get weather' } }] }, 'tools[1].function.name', "1 to 64 letters, digits, '_' or '-'"],
      ['a tool name of 65 characters', { tools: [{ type: 'function', function: { name: 'f'.repeat(65) } }] }, 'tools[0].function.name', '1 to 64'],
      ['a tool of another type', { tools: [{ type: 'retrieval', function: { name: 'f' } }] }, 'tools[0].type', "'function'"],
      ['tool parameters as a string', { tools: [{ type: 'function', function: { name: 'f', parameters: '{}' } }] }, 'tools[0].function.parameters', 'a JSON Schema object'],
      ['an unknown tool_choice', { tool_choice: 'sometimes' }, 'tool_choice', "'none', 'auto', 'required' or { type: 'function', function: { name } }"],
      ['a tool_choice without function', { tool_choice: { type: 'function' } }, 'tool_choice.function', 'Missing required parameter'],
      ['an unknown response format', { response_format: { type: 'xml' } }, 'response_format.type', "'text', 'json_object', 'json_schema'"],
      ['a json_schema without a name', { response_format: { type: 'json_schema', json_schema: { schema: {} } } }, 'response_format.json_schema.name', 'Missing required parameter'],
      ['a json_schema on a text format', { response_format: { type: 'text', json_schema: { name: 'x' } } }, 'response_format.json_schema', "Allowed in 'response_format': type"],
      ['stream as a string', { stream: 'yes' }, 'stream', 'true or false'],
      ['stream_options without stream', { stream_options: { include_usage: true } }, 'stream_options', 'only allowed when stream is true'],
      ['an unknown stream option', { stream: true, stream_options: { include_costs: true } }, 'stream_options.include_costs', 'include_usage'],
      ['17 metadata pairs', { metadata: tooManyPairs }, 'metadata', 'at most 16 pairs'],
      ['a numeric metadata value', { metadata: { tier: 1 } }, 'metadata', 'a string value of up to 512 characters'],
      ['a metadata key of 65 characters', { metadata: { ['k'.repeat(65)]: 'v' } }, 'metadata', 'a key of up to 64 characters'],
      ['a metadata value of 513 characters', { metadata: { k: 'v'.repeat(513) } }, 'metadata', 'up to 512 characters'],
      ['a logit bias above 100', { logit_bias: { '50256': 101 } }, 'logit_bias', 'token ids to numbers from -100 to 100'],
      ['a logit bias for a word', { logit_bias: { hello: 1 } }, 'logit_bias', 'token ids'],
      ['a presence penalty of 3', { presence_penalty: 3 }, 'presence_penalty', 'a number from -2 to 2'],
      ['a frequency penalty of -3', { frequency_penalty: -3 }, 'frequency_penalty', 'a number from -2 to 2'],
      ['top_logprobs of 21', { top_logprobs: 21 }, 'top_logprobs', 'an integer from 0 to 20'],
      ['a fractional seed', { seed: 1.5 }, 'seed', 'a 64-bit integer'],
      ['store as a string', { store: 'yes' }, 'store', 'true or false'],
      ['a numeric reasoning effort', { reasoning_effort: 3 }, 'reasoning_effort', 'a string'],
      ['modalities as a string', { modalities: 'text' }, 'modalities', 'an array of strings'],
      ['a null web_search_options', { web_search_options: null }, 'web_search_options', 'an object'],
      ['parallel_tool_calls as a number', { parallel_tool_calls: 1 }, 'parallel_tool_calls', 'true or false'],
      ['a user of 257 characters', { user: 'u'.repeat(257) }, 'user', 'up to 256 characters'],
      ['a numeric safety identifier', { safety_identifier: 7 }, 'safety_identifier', 'a string'],
    ])('should refuse %s with 400 naming it', async (_case, patch, param, fragment) => {
      const request = { ...A_VALID_REQUEST, ...patch } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;

      const error = await rejectionOf(gateway.client.chat.completions.create(request));

      expect(error.status).toBe(400);
      expect(error.error).toEqual({ message: expect.any(String), type: 'invalid_request_error', code: null, param });
      expect(error.message).toContain(fragment);
      expect(gateway.simulator.calls()).toHaveLength(0);
    });
  });

  describe('valid requests, forwarded unchanged', () => {
    const weatherTool = {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'The weather in a city.',
        // `toString` shadows Object.prototype: a copy by class-transformer would drop it.
        parameters: { type: 'object', properties: { city: { type: 'string' }, toString: { type: 'string' } }, required: ['city'], additionalProperties: false },
        strict: true,
      },
    };
    const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
    const conversation = [
      { role: 'system', content: 'You are terse.', name: 'policy' },
      { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
      {
        role: 'user',
        name: 'ana',
        content: [
          { type: 'text', text: 'What is in this picture, and what is the weather in Paris?' },
          { type: 'image_url', image_url: { url: 'https://example.com/tower.png', detail: 'low' } },
          { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
          { type: 'file', file: { file_id: 'file-abc123', filename: 'notes.pdf' } },
        ],
      },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 18}' },
      { role: 'assistant', content: [{ type: 'text', text: 'Il fait 18 degrés.' }], refusal: null },
      { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'again' }] },
    ];

    async function forwarded(request: Body): Promise<Body> {
      await gateway.client.chat.completions.create(request as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
      expect(upstream.bodies).toHaveLength(1);
      return upstream.bodies[0] as Body;
    }

    it('should forward a conversation with tools, tool calls, tool results, content parts, a JSON schema and stops as sent', async () => {
      const request = {
        model: 'gpt-4o-mini',
        messages: conversation,
        tools: [weatherTool, { type: 'function', function: { name: 'no-params_1' } }],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'answer', description: 'The answer.', schema: { type: 'object', properties: { text: { type: 'string' } } }, strict: true },
        },
        stop: ['\n\n', 'END'],
        metadata: { team: 'search', ['k'.repeat(64)]: 'v'.repeat(512) },
        max_completion_tokens: 50,
        temperature: 0,
        top_p: 1,
        n: 2,
      };

      expect(await forwarded(request)).toEqual({ ...request, stream: false });
    });

    it('should forward every field of the allow-list as sent', async () => {
      const request = {
        ...A_VALID_REQUEST,
        store: true,
        reasoning_effort: 'a-future-effort',
        service_tier: 'flex',
        modalities: ['text', 'audio'],
        audio: { voice: 'alloy', format: 'wav' },
        prediction: { type: 'content', content: 'Hello' },
        web_search_options: { search_context_size: 'low', user_location: { type: 'approximate', approximate: { city: 'Paris' } } },
        verbosity: 'low',
        parallel_tool_calls: false,
        logprobs: true,
        top_logprobs: 20,
        presence_penalty: -2,
        frequency_penalty: 2,
        seed: 42,
        logit_bias: { '50256': -100, '1234': 100 },
        user: 'user-1',
        safety_identifier: 'hashed-user-1',
        prompt_cache_key: 'tenant-a',
      };

      expect(await forwarded(request)).toEqual({ ...request, stream: false });
    });

    it('should forward the nulls OpenAI takes for its defaults', async () => {
      const request = { ...A_VALID_REQUEST, temperature: null, top_p: null, n: null, stop: null, metadata: null, seed: null, store: null, logprobs: null };

      expect(await forwarded(request)).toEqual({ ...request, stream: false });
    });

    it('should forward a stop string, a tool_choice mode and the other response formats', async () => {
      for (const format of [{ type: 'text' }, { type: 'json_object' }]) {
        upstream.bodies.length = 0;
        const request = { ...A_VALID_REQUEST, stop: 'END', tool_choice: 'none', tools: [weatherTool], response_format: format };

        expect(await forwarded(request)).toEqual({ ...request, stream: false });
      }
    });

    it('should forward a streaming request with its stream options', async () => {
      const request = { ...A_VALID_REQUEST, stream: true, stream_options: { include_usage: true } } as OpenAI.ChatCompletionCreateParamsStreaming;

      for await (const _chunk of await gateway.client.chat.completions.create(request));

      expect(upstream.bodies).toEqual([request]);
    });

    it('should hand the upstream client no undefined fields for what was left out', async () => {
      const createChatCompletion = jest.spyOn(gateway.app.get<UpstreamClient>(UpstreamClient), 'createChatCompletion');
      try {
        await gateway.client.chat.completions.create({ ...A_VALID_REQUEST, messages: conversation, tools: [weatherTool] } as OpenAI.ChatCompletionCreateParamsNonStreaming);

        const [body] = createChatCompletion.mock.calls[0];
        expect(pathsToUndefined(body)).toEqual([]);
        expect(Object.keys(body).sort()).toEqual(['max_completion_tokens', 'messages', 'model', 'stream', 'tools']);
      } finally {
        createChatCompletion.mockRestore();
      }
    });
  });
});

describe('MAX_BODY_BYTES', () => {
  it('should refuse to start below 1024 bytes, naming the variable', async () => {
    await expect(createGateway({ NODE_ENV: 'test', OPENAI_API_KEY: 'sk-config-test', MAX_BODY_BYTES: '512' }, { log: false })).rejects.toThrow(
      /^Invalid configuration[\s\S]*MAX_BODY_BYTES must be a whole number of bytes, at least 1024/,
    );
  });

  it('should take a configured limit', async () => {
    const gateway = await startGatewayWithSimulator({ MAX_BODY_BYTES: '2048' });
    try {
      const send = (content: string) =>
        fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gateway.tenantKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...A_VALID_REQUEST, messages: [{ role: 'user', content }] }),
        });

      expect((await send('x'.repeat(1900))).status).toBe(200);
      const refused = await send('x'.repeat(2048));
      expect(refused.status).toBe(413);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('2048 bytes');
    } finally {
      await gateway.close();
    }
  });
});

/** Every path in `value` that leads to `undefined`. */
function pathsToUndefined(value: unknown, path = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, field]) => (field === undefined ? [`${path}.${key}`] : pathsToUndefined(field, `${path}.${key}`)));
}

interface RecordingProxy {
  /** Ends in /v1, like the simulator's. */
  url: string;
  /** The JSON body of every POST the gateway sent upstream, oldest first. */
  bodies: unknown[];
  forwardTo(simulatorUrl: string): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

/** Sits between the gateway and the simulator to record the bodies the gateway sends: the simulator records calls, not bodies. */
async function startRecordingProxy(): Promise<RecordingProxy> {
  const bodies: unknown[] = [];
  let target = '';
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      if (req.method === 'POST') bodies.push(JSON.parse(body.toString('utf8')));
      const answer = await fetch(`${target}${req.url}`, { method: req.method, headers: endToEnd(req.headers), body: body.length > 0 ? body : undefined });
      res.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([name]) => !HOP_BY_HOP.has(name))));
      res.end(Buffer.from(await answer.arrayBuffer()));
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    bodies,
    forwardTo: (simulatorUrl) => {
      target = new URL(simulatorUrl).origin;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function endToEnd(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && !HOP_BY_HOP.has(entry[0])));
}
