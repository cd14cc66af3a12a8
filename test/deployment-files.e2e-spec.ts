import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

/**
 * Static checks on the deployment and observability files: no app is started, so this stays fast.
 * The metric names are read from the code that exports them, so a renamed metric breaks this suite
 * instead of silently emptying a dashboard panel or an alert.
 */
const root = join(__dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const yamlOf = (path: string): any => parse(read(path));

// dclint ships a CommonJS build, but its type declarations do not resolve from CommonJS: the part used here.
interface ComposeLintMessage {
  rule: string;
  type: 'error' | 'warning';
  line: number;
  column: number;
  message: string;
}
interface ComposeLinter {
  lintFiles(paths: string[], recursive: boolean): { messages: ComposeLintMessage[] }[];
}
const { DCLinter } = require('dclint') as {
  DCLinter: new (config: { rules: Record<string, 0 | 1 | 2>; quiet: boolean; debug: boolean; exclude: string[] }) => ComposeLinter;
};

const EXPECTED_METRICS = [
  'tollgate_requests_total',
  'tollgate_request_duration_seconds',
  'tollgate_upstream_attempt_duration_seconds',
  'tollgate_tokens_total',
  'tollgate_cost_usd_total',
  'tollgate_upstream_retries_total',
  'tollgate_retry_budget_rejections_total',
  'tollgate_breaker_state',
  'tollgate_breaker_transitions_total',
  'tollgate_upstream_key_refreshes_total',
  'tollgate_tenant_quota_remaining_ratio',
  'tollgate_job_wait_seconds',
  'tollgate_jobs_finished_total',
  'tollgate_job_webhooks_total',
  'tollgate_ledger_dead_letters_total',
  'tollgate_dependency_up',
  'tollgate_upstream_key_out',
  'tollgate_upstream_key_failovers_total',
  'tollgate_upstream_key_rests_total',
  'tollgate_client_retries_total',
  'tollgate_endpoint_requests_total',
  'tollgate_token_details_total',
];
const HISTOGRAMS = ['tollgate_request_duration_seconds', 'tollgate_upstream_attempt_duration_seconds', 'tollgate_job_wait_seconds'];
const KNOWN_SERIES = new Set([
  ...EXPECTED_METRICS,
  ...HISTOGRAMS.flatMap((name) => ['_bucket', '_count', '_sum'].map((suffix) => name + suffix)),
]);
const metricNamesIn = (expr: string) => expr.match(/\btollgate_[a-z0-9_]+/g) ?? [];

function yamlFilesUnder(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

interface Rule {
  alert?: string;
  record?: string;
  expr?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const alertRules = (): Rule[] => yamlOf('config/prometheus/alerts.yml').groups.flatMap((group: { rules: Rule[] }) => group.rules);
const dashboard = () => JSON.parse(read('config/grafana/tollgate-dashboard.json'));
const dashboardExprs = (): string[] =>
  dashboard().panels.flatMap((panel: { targets?: { expr?: string }[] }) => (panel.targets ?? []).map((target) => target.expr ?? ''));
const gatewayContainer = () => {
  const deployment = yamlOf('config/k8s/deployment.yaml');
  return deployment.spec.template.spec.containers.find((container: { name: string }) => container.name === 'gateway');
};

describe('Deployment and observability files', () => {
  it('should list exactly the metrics the gateway exports', () => {
    const source = read('libs/ai/src/telemetry/ai-metrics.ts');
    const exported = [...source.matchAll(/name:\s*'(tollgate_[a-z0-9_]+)'/g)].map((match) => match[1]);

    expect(exported.sort()).toEqual([...EXPECTED_METRICS].sort());
  });

  it('should parse every YAML file without errors', () => {
    const files = ['docker-compose.yml', ...yamlFilesUnder('config')];
    expect(files).toEqual(
      expect.arrayContaining([
        'config/prometheus/alerts.yml',
        'config/prometheus/prometheus.yml',
        'config/grafana/provisioning/datasources.yml',
        'config/grafana/provisioning/dashboards.yml',
        'config/k8s/deployment.yaml',
        'config/k8s/service.yaml',
        'config/k8s/hpa.yaml',
        'config/k8s/pdb.yaml',
        'config/k8s/configmap.yaml',
      ]),
    );

    for (const file of files) {
      const documents = parseAllDocuments(read(file));
      const errors = (Array.isArray(documents) ? documents : []).flatMap((document) => document.errors.map((error) => `${file}: ${error.message}`));
      expect(errors).toEqual([]);
      expect(Array.isArray(documents) && documents.length > 0 && documents[0].toJS() != null).toBe(true);
    }
  });

  describe('Prometheus', () => {
    it('should give every alert rule an alert name, an expression, a severity and a summary', () => {
      const groups = yamlOf('config/prometheus/alerts.yml').groups;
      expect(groups.map((group: { name: string }) => group.name)).toContain('tollgate');

      const rules = alertRules();
      expect(rules.length).toBeGreaterThanOrEqual(8);
      for (const rule of rules) {
        expect(rule.alert).toEqual(expect.any(String));
        expect(rule.expr).toEqual(expect.any(String));
        expect(['info', 'warning', 'critical']).toContain(rule.labels?.severity);
        expect(rule.annotations?.summary).toEqual(expect.any(String));
        expect(rule.annotations?.description).toEqual(expect.any(String));
      }
    });

    it('should alert on patterns: error rate, quota exhaustion, open breaker, p99 latency, retry budget, key refresh', () => {
      const exprs = alertRules().map((rule) => rule.expr ?? '');
      const has = (test: (expr: string) => boolean) => expect(exprs.some(test)).toBe(true);

      has((expr) => /tollgate_requests_total/.test(expr) && /0\.05/.test(expr));
      has((expr) => /upstream_quota_exhausted/.test(expr));
      has((expr) => /min_over_time\(tollgate_breaker_state\[5m\]\)\s*>=\s*1/.test(expr));
      has((expr) => /histogram_quantile\(0\.99,.*tollgate_request_duration_seconds_bucket/s.test(expr) && />\s*30/.test(expr));
      has((expr) => /tollgate_retry_budget_rejections_total/.test(expr));
      has((expr) => /tollgate_upstream_key_refreshes_total\{outcome="failed"\}/.test(expr));

      const quota = alertRules().find((rule) => /upstream_quota_exhausted/.test(rule.expr ?? ''));
      expect(quota?.labels?.severity).toBe('critical');
    });

    it('should warn per tenant and quota at 20% of a quota left, and page when it is exhausted', () => {
      const rule = (name: string) => alertRules().find((candidate) => candidate.alert === name);
      const warning = rule('TollgateTenantQuotaAt80Percent');
      const exhausted = rule('TollgateTenantQuotaExhausted');

      expect(warning?.expr).toMatch(/by \(tenant, quota\) \(tollgate_tenant_quota_remaining_ratio\) <= 0\.2\b/);
      expect(warning?.labels?.severity).toBe('warning');
      expect(exhausted?.expr).toMatch(/by \(tenant, quota\) \(tollgate_tenant_quota_remaining_ratio\) <= 0\s*$/);
      expect(exhausted?.labels?.severity).toBe('critical');
      for (const alert of [warning, exhausted]) {
        expect(alert?.annotations?.summary).toContain('{{ $labels.tenant }}');
        expect(alert?.annotations?.summary).toContain('{{ $labels.quota }}');
      }
    });

    it('should reference only metrics the gateway exports in alert rules', () => {
      const names = alertRules().flatMap((rule) => metricNamesIn(rule.expr ?? ''));
      expect(names.length).toBeGreaterThan(0);
      expect(names.filter((name) => !KNOWN_SERIES.has(name))).toEqual([]);
    });

    it('should scrape the gateway on /metrics every 15s and load the alert rules', () => {
      const config = yamlOf('config/prometheus/prometheus.yml');
      expect(config.rule_files).toContain('alerts.yml');
      const job = config.scrape_configs.find((scrape: any) =>
        scrape.static_configs?.some((target: { targets: string[] }) => target.targets.includes('gateway:3000')),
      );
      expect(job).toBeDefined();
      expect(job.metrics_path ?? '/metrics').toBe('/metrics');
      expect(job.scrape_interval ?? config.global?.scrape_interval).toBe('15s');
    });

    it('should scrape with the metrics token, read from the secret docker-compose mounts, never written in the file', () => {
      const job = yamlOf('config/prometheus/prometheus.yml').scrape_configs.find((scrape: { job_name: string }) => scrape.job_name === 'tollgate');
      expect(job.authorization).toEqual({ type: 'Bearer', credentials_file: '/run/secrets/metrics-token' });

      const compose = yamlOf('docker-compose.yml');
      expect(compose.secrets['metrics-token']).toEqual({ environment: 'METRICS_TOKEN' });
      expect(compose.services.prometheus.secrets).toContain('metrics-token');
      expect(compose.services.gateway.environment.METRICS_TOKEN).toMatch(/^\$\{METRICS_TOKEN:\?/);
    });
  });

  describe('Grafana', () => {
    it('should have a schemaVersion 39 dashboard with a Prometheus datasource variable', () => {
      const board = dashboard();
      expect(board.schemaVersion).toBe(39);
      expect(board.templating.list).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' })]));
    });

    it('should give every panel at least one target with an expression', () => {
      const panels = dashboard().panels;
      expect(panels.length).toBeGreaterThanOrEqual(8);
      for (const panel of panels) {
        const exprs = (panel.targets ?? []).map((target: { expr?: string }) => target.expr).filter((expr: unknown) => typeof expr === 'string' && expr.trim() !== '');
        expect({ panel: panel.title, exprs: exprs.length > 0 }).toEqual({ panel: panel.title, exprs: true });
      }
    });

    it('should reference only metrics the gateway exports in panel expressions', () => {
      const names = dashboardExprs().flatMap(metricNamesIn);
      expect(new Set(names)).toEqual(new Set(EXPECTED_METRICS.filter((name) => !HISTOGRAMS.includes(name)).concat(HISTOGRAMS.map((name) => `${name}_bucket`))));
      expect(names.filter((name) => !KNOWN_SERIES.has(name))).toEqual([]);
    });

    it('should show latency quantiles by model and top-10 tenants for tokens and cost', () => {
      const exprs = dashboardExprs();
      expect(exprs.some((expr) => /histogram_quantile\(0\.5,.*by \(model, le\)/.test(expr))).toBe(true);
      expect(exprs.some((expr) => /histogram_quantile\(0\.99,.*by \(model, le\)/.test(expr))).toBe(true);
      expect(exprs.some((expr) => /topk\(10,.*tollgate_tokens_total/.test(expr))).toBe(true);
      expect(exprs.some((expr) => /topk\(10,.*tollgate_cost_usd_total/.test(expr))).toBe(true);
    });

    it('should show the quota each tenant has left, as a share', () => {
      const panel = dashboard().panels.find((candidate: { title: string }) => candidate.title === 'Quota remaining by tenant');
      expect(panel.fieldConfig.defaults).toMatchObject({ unit: 'percentunit', min: 0, max: 1 });
      expect(panel.targets[0].expr).toMatch(/by \(tenant, quota\) \(tollgate_tenant_quota_remaining_ratio\)/);
    });

    it('should provision the Prometheus datasource and the dashboard folder', () => {
      const datasources = yamlOf('config/grafana/provisioning/datasources.yml');
      expect(datasources.datasources).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]));
      const dashboards = yamlOf('config/grafana/provisioning/dashboards.yml');
      expect(dashboards.providers[0]).toMatchObject({ type: 'file', options: { path: expect.any(String) } });
    });
  });

  describe('Kubernetes', () => {
    it('should probe /health/live, /health/ready and /health/startup on port 3000, and never /health/upstream', () => {
      const container = gatewayContainer();
      expect(container.livenessProbe.httpGet).toMatchObject({ path: '/health/live', port: 3000 });
      expect(container.readinessProbe.httpGet).toMatchObject({ path: '/health/ready', port: 3000 });
      expect(container.startupProbe.httpGet).toMatchObject({ path: '/health/startup', port: 3000 });
      expect(container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(10);
      expect(read('config/k8s/deployment.yaml')).not.toMatch(/path:\s*\/health\/upstream/);
    });

    it('should take the upstream key and the admin token from Secrets, never literal values', () => {
      const env: { name: string; value?: string; valueFrom?: any }[] = gatewayContainer().env;
      const key = env.find((variable) => variable.name === 'OPENAI_API_KEY');
      expect(key?.value).toBeUndefined();
      expect(key?.valueFrom?.secretKeyRef).toEqual({ name: 'tollgate-upstream', key: 'openai-api-key' });
      const admin = env.find((variable) => variable.name === 'ADMIN_TOKEN');
      expect(admin?.value).toBeUndefined();
      expect(admin?.valueFrom?.secretKeyRef).toBeDefined();
      // Production does not start without it, and /metrics answers only its bearer.
      const metrics = env.find((variable) => variable.name === 'METRICS_TOKEN');
      expect(metrics?.value).toBeUndefined();
      expect(metrics?.valueFrom?.secretKeyRef).toEqual({ name: 'tollgate-metrics', key: 'metrics-token' });

      const configMap = yamlOf('config/k8s/configmap.yaml');
      expect(Object.keys(configMap.data)).not.toEqual(expect.arrayContaining(['OPENAI_API_KEY']));
      expect(Object.keys(configMap.data)).not.toEqual(expect.arrayContaining(['ADMIN_TOKEN']));
      expect(Object.keys(configMap.data)).not.toEqual(expect.arrayContaining(['METRICS_TOKEN']));
      expect(configMap.data).toMatchObject({ NODE_ENV: 'production', DATABASE_URL: expect.any(String), REDIS_URL: expect.any(String) });
      expect(read('config/k8s/deployment.yaml')).not.toMatch(/sk-[A-Za-z0-9]/);
    });

    it('should run as non-root with bounded resources and a graceful shutdown window', () => {
      const deployment = yamlOf('config/k8s/deployment.yaml');
      const pod = deployment.spec.template.spec;
      const container = gatewayContainer();
      expect(deployment.spec.replicas).toBe(2);
      expect(container.image).toBe('tollgate:latest');
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext.runAsUser ?? pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(container.resources.requests).toBeDefined();
      expect(container.resources.limits).toBeDefined();
      expect(container.envFrom).toEqual(expect.arrayContaining([{ configMapRef: { name: 'tollgate-config' } }]));
      // The gateway fails readiness first and keeps serving SHUTDOWN_READINESS_DELAY_MS: the grace period must outlast it.
      const delayMs = Number(yamlOf('config/k8s/configmap.yaml').data.SHUTDOWN_READINESS_DELAY_MS);
      const probe = container.readinessProbe;
      expect(delayMs / 1000).toBeGreaterThan(probe.periodSeconds * probe.failureThreshold);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(delayMs / 1000 + 30);
    });

    it('should scale on CPU at 70% and keep at least one replica through disruptions', () => {
      const hpa = yamlOf('config/k8s/hpa.yaml');
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'tollgate' });
      expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }]);
      expect(yamlOf('config/k8s/pdb.yaml').spec.minAvailable).toBe(1);
      const service = yamlOf('config/k8s/service.yaml');
      expect(service.spec.selector).toEqual(yamlOf('config/k8s/deployment.yaml').spec.selector.matchLabels);
    });
  });

  describe('docker-compose', () => {
    // dclint checks the file against the compose-spec JSON schema it bundles, then applies its own rules; of
    // those only the ones that break `docker compose up` count here, not the style ones.
    const COMPOSE_BREAKERS = new Set(['invalid-yaml', 'invalid-schema', 'unknown-error', 'no-duplicate-exported-ports', 'no-duplicate-container-names']);
    const lint = (path: string): ComposeLintMessage[] => new DCLinter({ rules: {}, quiet: true, debug: false, exclude: [] }).lintFiles([path], false)[0].messages;
    const described = (messages: ComposeLintMessage[]) => messages.map((message) => `${message.line}:${message.column} ${message.rule}: ${message.message}`);
    const composeProblems = (path: string): string[] => described(lint(path).filter((message) => COMPOSE_BREAKERS.has(message.rule)));

    it('should match the compose-spec schema', () => {
      expect(composeProblems(join(root, 'docker-compose.yml'))).toEqual([]);
    });

    it('should have no error by any of dclint’s rules, as `npx dclint docker-compose.yml` reports them', () => {
      expect(described(lint(join(root, 'docker-compose.yml')).filter((message) => message.type === 'error'))).toEqual([]);
    });

    it('should report a port published on every interface as an error', () => {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-compose-'));
      try {
        writeFileSync(join(dir, 'docker-compose.yml'), "name: t\nservices:\n  gateway:\n    build: .\n    ports: ['3000:3000']\n");
        expect(described(lint(join(dir, 'docker-compose.yml')).filter((message) => message.type === 'error'))).toEqual([
          expect.stringMatching(/no-unbound-port-interfaces: Service "gateway" is exporting port "3000:3000"/),
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("should check the gateway's readiness with Node's fetch (the image has no curl), and start Prometheus once it is healthy", () => {
      const { gateway, prometheus } = yamlOf('docker-compose.yml').services;

      expect(gateway.healthcheck.test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      expect(gateway.healthcheck.test[3]).toMatch(/fetch\('http:\/\/127\.0\.0\.1:3000\/health\/ready'\)/);
      expect(gateway.healthcheck).toMatchObject({ interval: expect.any(String), timeout: expect.any(String), start_period: expect.any(String) });
      expect(prometheus.depends_on).toEqual({ gateway: { condition: 'service_healthy' } });
      expect(read('Dockerfile')).not.toMatch(/\bcurl\b|\bwget\b/);
    });

    it("should build the image from sources only, so that a local build's .tsbuildinfo cannot stand in for a missing dist", () => {
      const copied = [...read('Dockerfile').matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((copy) => copy[1].split(' '));

      expect(copied).not.toContain('libs');
      expect(copied).toEqual(expect.arrayContaining(['src', 'libs/ai/src', 'libs/simulator/src', 'console']));
      expect(read('Dockerfile')).toMatch(/^COPY --from=build .*\/app\/console\/dist console\/dist$/m);
    });

    it('should publish every port on loopback only', () => {
      const services: Record<string, { ports?: string[] }> = yamlOf('docker-compose.yml').services;
      const ports = Object.values(services).flatMap((service) => service.ports ?? []);

      expect(ports).toEqual(['127.0.0.1:3000:3000', '127.0.0.1:9090:9090', '127.0.0.1:3001:3000']);
    });

    it('should report a compose file that breaks the compose-spec schema', () => {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-compose-'));
      try {
        writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  gateway:\n    build: .\n    helthcheck: { test: ["CMD", "true"] }\n');
        expect(composeProblems(join(dir, 'docker-compose.yml'))).toEqual([expect.stringMatching(/invalid-schema: .*must NOT have additional properties/)]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('should keep gateway, postgres and redis and add prometheus and grafana', () => {
      const compose = yamlOf('docker-compose.yml');
      expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['gateway', 'postgres', 'redis', 'prometheus', 'grafana']));
      expect(compose.services.prometheus.image).toMatch(/^prom\/prometheus/);
      expect(compose.services.prometheus.volumes.join(' ')).toContain('./config/prometheus');
      expect(compose.services.grafana.image).toMatch(/^grafana\/grafana/);
      expect(compose.services.grafana.ports).toContain('127.0.0.1:3001:3000');
      const grafanaVolumes = compose.services.grafana.volumes.join(' ');
      expect(grafanaVolumes).toContain('./config/grafana/provisioning');
      expect(grafanaVolumes).toContain('./config/grafana/tollgate-dashboard.json');
    });
  });
});
