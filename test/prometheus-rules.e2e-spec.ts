import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';

/**
 * Checks the Prometheus files with promtool, Prometheus' own checker: the config, the alert rules,
 * and the rule unit tests in config/prometheus/alerts.test.yml, which feed series and assert which
 * alerts fire. .ci/run installs promtool (Debian's prometheus package); on a machine without it the
 * promtool checks are skipped with a printed reason, except under CI, where they fail.
 */
const root = join(__dirname, '..');
const run = promisify(execFile);
const MISSING = 'promtool is not installed: `apt-get install --no-install-recommends prometheus` (Debian) provides it; .ci/run installs it';

function promtoolVersion(): string | undefined {
  try {
    return execFileSync('promtool', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return undefined;
  }
}

/** Runs promtool from the repository root; on failure, throws with everything promtool printed. */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: root });
    return stdout + stderr;
  } catch (error) {
    const { stdout = '', stderr = '', message } = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed (${message.split('\n')[0]}):\n${stdout}${stderr}`);
  }
}

const version = promtoolVersion();
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false';
if (!version && !inCi) console.warn(`Skipping the promtool checks of config/prometheus: ${MISSING}`);
const describeWithPromtool = version || inCi ? describe : describe.skip;

describeWithPromtool(`Prometheus files, checked by ${version ?? 'promtool'}`, () => {
  beforeAll(() => {
    if (!version) throw new Error(MISSING);
  });

  // promtool checks that the metrics token's file exists, and it exists only where Prometheus runs: the
  // config is checked from a copy beside the rule files, with a token file of its own.
  it('should accept prometheus.yml, its metrics token file and the rule files it loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-prometheus-'));
    try {
      const config = readFileSync(join(root, 'config/prometheus/prometheus.yml'), 'utf8');
      expect(config).toContain('credentials_file: /run/secrets/metrics-token');
      writeFileSync(join(dir, 'metrics-token'), 'a-metrics-token-0123456789');
      writeFileSync(join(dir, 'prometheus.yml'), config.replace('/run/secrets/metrics-token', join(dir, 'metrics-token')));
      copyFileSync(join(root, 'config/prometheus/alerts.yml'), join(dir, 'alerts.yml'));

      const output = await promtool('check', 'config', join(dir, 'prometheus.yml'));

      expect(output).toContain('is valid prometheus config file syntax');
      expect(output).toContain(`Checking ${join(dir, 'alerts.yml')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should accept the alert rules, with duplicate rules an error', async () => {
    const output = await promtool('check', 'rules', '--lint=all', '--lint-fatal', 'config/prometheus/alerts.yml');
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('should pass the rule unit tests in alerts.test.yml', async () => {
    const output = await promtool('test', 'rules', 'config/prometheus/alerts.test.yml');
    expect(output).toContain('SUCCESS');
  });
});

describe('Prometheus rule unit tests (alerts.test.yml)', () => {
  interface AlertTest {
    alertname: string;
    exp_alerts?: unknown[];
  }
  const read = (path: string): any => parse(readFileSync(join(root, path), 'utf8'));

  it('should show every alert both firing and staying silent', () => {
    const alerts: string[] = read('config/prometheus/alerts.yml').groups.flatMap((group: { rules: { alert?: string }[] }) =>
      group.rules.flatMap((rule) => (rule.alert ? [rule.alert] : [])),
    );
    const checks: AlertTest[] = read('config/prometheus/alerts.test.yml').tests.flatMap((test: { alert_rule_test?: AlertTest[] }) => test.alert_rule_test ?? []);
    const coverage = (alert: string) => {
      const own = checks.filter((check) => check.alertname === alert);
      return { alert, fires: own.some((check) => (check.exp_alerts ?? []).length > 0), silent: own.some((check) => (check.exp_alerts ?? []).length === 0) };
    };

    expect(alerts.length).toBeGreaterThan(0);
    expect(alerts.map(coverage)).toEqual(alerts.map((alert) => ({ alert, fires: true, silent: true })));
  });
});
