import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '../../test/fake-clock';
import { UpstreamStatusPage } from './upstream-status-page';

type Answer = { status: number; body: unknown } | 'hang';

/** incident.io's widget summary as status.openai.com serves it at /proxy/status.openai.com (trimmed). */
function anIncidentIoSummary(summary: { affected?: Array<[id: string, status: string]>; incidents?: string[]; maintenances?: string[] } = {}) {
  return {
    summary: {
      id: 'page-openai',
      name: 'OpenAI',
      components: [
        { id: 'c-chat', name: 'Chat Completions' },
        { id: 'c-responses', name: 'Responses' },
        { id: 'c-embeddings', name: 'Embeddings' },
      ],
      affected_components: (summary.affected ?? []).map(([component_id, status]) => ({ component_id, status })),
      ongoing_incidents: (summary.incidents ?? []).map((name, index) => ({ id: `i-${index}`, name, status: 'investigating' })),
      in_progress_maintenances: (summary.maintenances ?? []).map((name, index) => ({ id: `m-${index}`, name })),
      scheduled_maintenances: [],
      structure: { items: [] },
    },
  };
}

const aStatusJson = (indicator: string, description: string) => ({ page: { id: 'openai' }, status: { indicator, description } });

describe(UpstreamStatusPage.name, () => {
  let server: Server;
  let origin: string;
  const answers = new Map<string, Answer>();
  const asked: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      asked.push(request.url!);
      const answer = answers.get(request.url!) ?? { status: 404, body: { error: 'not found' } };
      if (answer === 'hang') return;
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    answers.clear();
    asked.length = 0;
  });

  const SUMMARY = '/proxy/status.openai.com';
  const SHIM = '/api/v2/status.json';
  const aPage = (options: { url?: string; timeoutMs?: number } = {}) =>
    new UpstreamStatusPage({ url: `${origin}${options.url ?? SUMMARY}`, timeoutMs: options.timeoutMs ?? 2_000 }, new FakeClock());

  it('should report all is well from an incident.io summary with nothing affected', async () => {
    answers.set(SUMMARY, { status: 200, body: anIncidentIoSummary() });

    await expect(aPage().current()).resolves.toMatchObject({
      indicator: 'none',
      description: 'All systems operational',
      affectedComponents: [],
      source: 'incident.io',
    });
    expect(asked).toEqual([SUMMARY]);
  });

  it.each([
    ['degraded_performance', 'minor'],
    ['partial_outage', 'major'],
    ['full_outage', 'critical'],
  ])('should name the components affected (%s) and rank the page %s by the worst of them', async (impact, indicator) => {
    answers.set(SUMMARY, {
      status: 200,
      body: anIncidentIoSummary({ affected: [['c-embeddings', 'degraded_performance'], ['c-chat', impact]], incidents: ['Elevated errors on Chat Completions'] }),
    });

    await expect(aPage().current()).resolves.toMatchObject({
      indicator,
      description: 'Ongoing: Elevated errors on Chat Completions',
      affectedComponents: [
        { name: 'Embeddings', status: 'degraded_performance' },
        { name: 'Chat Completions', status: impact },
      ],
    });
  });

  it('should count an ongoing incident that names no component yet as minor', async () => {
    answers.set(SUMMARY, { status: 200, body: anIncidentIoSummary({ incidents: ['Investigating reports of errors'] }) });

    await expect(aPage().current()).resolves.toMatchObject({ indicator: 'minor', description: 'Ongoing: Investigating reports of errors' });
  });

  it('should not count a maintenance in progress as an incident', async () => {
    answers.set(SUMMARY, { status: 200, body: anIncidentIoSummary({ affected: [['c-responses', 'under_maintenance']], maintenances: ['Database upgrade'] }) });

    await expect(aPage().current()).resolves.toMatchObject({
      indicator: 'none',
      description: 'Maintenance: Database upgrade',
      affectedComponents: [{ name: 'Responses', status: 'under_maintenance' }],
    });
  });

  it("should fall back to the page's Statuspage shim when the summary cannot be read", async () => {
    answers.set(SUMMARY, { status: 503, body: {} });
    answers.set(SHIM, { status: 200, body: aStatusJson('major', 'Partial System Outage') });

    await expect(aPage().current()).resolves.toMatchObject({ indicator: 'major', description: 'Partial System Outage', source: 'statuspage' });
    expect(asked).toEqual([SUMMARY, SHIM]);
  });

  it('should fall back to the shim when the summary answers in a shape it does not know', async () => {
    answers.set(SUMMARY, { status: 200, body: { something: 'else' } });
    answers.set(SHIM, { status: 200, body: aStatusJson('none', 'All Systems Operational') });

    await expect(aPage().current()).resolves.toMatchObject({ indicator: 'none', source: 'statuspage' });
  });

  it('should report unknown, saying why, when neither page answers in time', async () => {
    answers.set(SUMMARY, 'hang');
    answers.set(SHIM, { status: 500, body: {} });

    const report = await aPage({ timeoutMs: 200 }).current();

    expect(report).toMatchObject({ indicator: 'unknown', affectedComponents: [] });
    expect(report.description).toMatch(/^The status page gave no answer: .*; \/api\/v2\/status\.json answered 500$/);
  });

  it('should read a Statuspage status.json given as the URL, with no fallback to ask', async () => {
    answers.set(SHIM, { status: 200, body: aStatusJson('critical', 'Major System Outage') });

    await expect(aPage({ url: SHIM }).current()).resolves.toMatchObject({ indicator: 'critical', source: 'statuspage' });
    expect(asked).toEqual([SHIM]);
  });

  it('should report an indicator it does not know as unknown', async () => {
    answers.set(SHIM, { status: 200, body: aStatusJson('maintenance', 'Service Under Maintenance') });

    await expect(aPage({ url: SHIM }).current()).resolves.toMatchObject({ indicator: 'unknown', description: 'Service Under Maintenance' });
  });

  it('should ask the page at most once per cacheMs', async () => {
    answers.set(SUMMARY, { status: 200, body: anIncidentIoSummary() });
    const clock = new FakeClock();
    const page = new UpstreamStatusPage({ url: `${origin}${SUMMARY}`, cacheMs: 60_000 }, clock);

    await Promise.all([page.current(), page.current()]);
    clock.advance(59_999);
    await page.current();
    expect(asked).toHaveLength(1);

    clock.advance(1);
    await page.current();
    expect(asked).toHaveLength(2);
  });
});
