import { AiService } from '@tollgate/ai';
import { Governance, Database } from '@tollgate/ai/tenancy';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { aUserMessage, createTenant, GatewayUnderTest, rejectionOf, startGatewayWithSimulator, tenantClient } from './support/gateway-harness';

/** About one o200k/cl100k token per word. */
const words = (count: number) => Array.from({ length: count }, (_, i) => `word${i % 50}`).join(' ');

/** A long conversation for gpt-3.5-turbo (a 16 385-token window): a system message, 12 old turns of ~2 000 tokens, a last question. */
function longConversation(): ChatCompletionMessageParam[] {
  const turns: ChatCompletionMessageParam[] = Array.from({ length: 12 }, (_, i) =>
    i % 2 === 0 ? { role: 'user', content: words(2_000) } : { role: 'assistant', content: words(2_000) },
  );
  return [{ role: 'system', content: 'You are terse.' }, ...turns, { role: 'user', content: 'So, what is the answer?' }];
}

describe('Context policies through the gateway', () => {
  let gateway: GatewayUnderTest;
  let seq = 0;

  beforeAll(async () => {
    gateway = await startGatewayWithSimulator();
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.simulator.reset());

  /** A tenant of the default plan: known models only, the `reject` policy, generous quotas. */
  async function aClient(limits = {}): Promise<{ client: OpenAI; tenantId: string }> {
    const tenantId = `ctx-${++seq}`;
    const key = await createTenant(gateway.app, tenantId, { tokensPerMinute: null, ...limits });
    return { client: tenantClient(gateway.url, { apiKey: key }), tenantId };
  }

  const ask = (client: OpenAI, policy?: string) =>
    client.chat.completions
      .create({ model: 'gpt-3.5-turbo', messages: longConversation(), max_tokens: 500 }, policy ? { headers: { 'x-tollgate-context-policy': policy } } : {})
      .withResponse();

  it('should reject a prompt over the window with the counts, without calling the upstream', async () => {
    const { client } = await aClient();
    const promptTokens = gateway.app.get(AiService).countTokens({ model: 'gpt-3.5-turbo', messages: longConversation() });

    const error = await rejectionOf(ask(client));

    expect(error.status).toBe(400);
    expect(error.code).toBe('context_length_exceeded');
    expect(error.message).toContain('maximum context length is 16385 tokens');
    expect(error.message).toContain(`(${promptTokens} in the messages, 500 in the completion)`);
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should trim the oldest turns, keep the system message and the last question, and say so', async () => {
    const { client } = await aClient();

    const { data, response } = await ask(client, 'trim');

    expect(response.headers.get('x-tollgate-context')).toBe('trimmed');
    expect(data.usage!.prompt_tokens + 500).toBeLessThanOrEqual(16_385);
    expect(gateway.simulator.calls()).toHaveLength(1);
  });

  it('should upgrade to the registered larger-context model', async () => {
    const { client } = await aClient({ contextPolicy: 'upgrade' });

    const { data, response } = await ask(client);

    expect(response.headers.get('x-tollgate-context')).toBe('upgraded');
    expect(response.headers.get('x-tollgate-served-model')).toBe('gpt-4o-mini');
    expect(data.model).toBe('gpt-4o-mini');
    expect(gateway.simulator.calls().map((call) => call.model)).toEqual(['gpt-4o-mini']);
  });

  it('should summarize the oldest turns with the cheap model, the summary call in the tenant’s ledger', async () => {
    const { client, tenantId } = await aClient({ contextPolicy: 'summarize' });

    const { data, response } = await ask(client);
    await gateway.app.get(Governance).drain();

    expect(response.headers.get('x-tollgate-context')).toBe('summarized');
    expect(gateway.simulator.calls().map((call) => call.model)).toEqual(['gpt-4o-mini', 'gpt-3.5-turbo']);
    expect(data.usage!.prompt_tokens + 500).toBeLessThanOrEqual(16_385);
    const rows = await gateway.app.get(Database).manager.query(
      'SELECT request_id, model_requested, outcome FROM tollgate_usage_ledger WHERE tenant_id = ? ORDER BY created_at',
      [tenantId],
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ model_requested: 'gpt-4o-mini', outcome: 'success' });
    expect(rows[0].request_id).toMatch(/:summary$/);
    expect(rows[1]).toMatchObject({ model_requested: 'gpt-3.5-turbo', outcome: 'success' });
  });

  it('should enforce the plan’s largest prompt whatever the model’s window', async () => {
    const { client } = await aClient({ maxPromptTokens: 1_000 });

    const error = await rejectionOf(client.chat.completions.create({ model: 'gpt-4.1', messages: aUserMessage(words(1_500)) }));

    expect(error.status).toBe(400);
    expect(error.message).toContain('Your plan allows prompts of at most 1000 tokens');
    expect(gateway.simulator.calls()).toHaveLength(0);
  });

  it('should refuse a model the gateway does not know, unless the plan passes unknown models through', async () => {
    const { client } = await aClient();
    const { client: passThrough } = await aClient({ allowUnknownModels: true });

    const error = await rejectionOf(client.chat.completions.create({ model: 'gpt-9-ultra', messages: aUserMessage() }));
    await passThrough.chat.completions.create({ model: 'gpt-9-ultra', messages: aUserMessage() });

    expect(error.status).toBe(404);
    expect(error.code).toBe('model_not_found');
    expect(gateway.simulator.calls().map((call) => call.model)).toEqual(['gpt-9-ultra']);
  });

  it('should refuse an unknown context policy header with 400 naming it', async () => {
    const { client } = await aClient();

    const error = await rejectionOf(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: aUserMessage() }, { headers: { 'x-tollgate-context-policy': 'shorten' } }),
    );

    expect(error.status).toBe(400);
    expect(error.param).toBe('x-tollgate-context-policy');
  });

  it.each([
    ['one short message', aUserMessage('Hello there!')],
    ['a conversation with a system message and a name', [
      { role: 'system', content: 'You are a helpful assistant that answers in French.' },
      { role: 'user', name: 'ada', content: 'What is the capital of France?' },
      { role: 'assistant', content: 'La capitale de la France est Paris.' },
      { role: 'user', content: 'And of Italy? Ñandú, 東京, emoji 🚀.' },
    ] as ChatCompletionMessageParam[]],
    ['content parts', [{ role: 'user', content: [{ type: 'text', text: 'Describe ' }, { type: 'text', text: 'this in detail.' }] }] as ChatCompletionMessageParam[]],
  ])('should count %s exactly as the simulator bills it (same o200k framing)', async (_case, messages) => {
    const { client } = await aClient();

    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });

    expect(gateway.app.get(AiService).countTokens({ model: 'gpt-4o-mini', messages })).toBe(completion.usage!.prompt_tokens);
  });
});
