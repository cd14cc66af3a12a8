import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { TokenCounter } from '../../libs/ai/src/context/token-counter';

export interface PacedUpstream {
  /** e.g. http://127.0.0.1:41234/v1 */
  url: string;
  /** Content chunks the upstream's socket has accepted so far, over every stream. */
  chunksAccepted(): number;
  close(): Promise<void>;
}

const WORD = 'lorem ';

/**
 * An OpenAI-shaped upstream that streams `chunks` one-word chunks, then the usage chunk, as fast as
 * its socket takes them and no faster: it waits for `drain`, so what it has sent is what the reader
 * (the gateway) has really taken from it.
 */
export async function startPacedUpstream(chunks: number): Promise<PacedUpstream> {
  let accepted = 0;
  // What OpenAI would bill for the whole text, so that a stream relayed to its end is billed at least its text.
  const completionTokens = new TokenCounter().countText(WORD.repeat(chunks));
  const server: Server = createServer((request, response) => void serve(request, response));

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    for await (const _ of request);
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (body: object) => `data: ${JSON.stringify({ id: 'chatcmpl-paced', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o-mini', ...body })}\n\n`;
    for (let i = 0; i < chunks && !response.destroyed; i++) {
      const more = response.write(chunk({ choices: [{ index: 0, delta: { content: WORD }, finish_reason: null }] }));
      accepted++;
      if (!more) await new Promise((resolve) => (response.once('drain', resolve), response.once('close', resolve)));
    }
    if (response.destroyed) return;
    response.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    response.end(chunk({ choices: [], usage: { prompt_tokens: 10, completion_tokens: completionTokens, total_tokens: completionTokens + 10 } }) + 'data: [DONE]\n\n');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    chunksAccepted: () => accepted,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
