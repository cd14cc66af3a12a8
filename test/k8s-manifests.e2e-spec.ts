import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/**
 * Validates every document of every manifest in config/k8s against the Kubernetes OpenAPI schemas,
 * through kubernetes-models (one model per apiVersion and kind, each with a generated `validate()`).
 * It runs offline. Like the API server, the schemas allow unknown fields, so a misspelt optional field
 * still passes: the assertions in deployment-files.e2e-spec.ts cover the fields that matter.
 */
const root = join(__dirname, '..');
const manifestDir = join(root, 'config', 'k8s');

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}

interface KubernetesModel {
  validate(): void;
}
type ModelClass = new (data: object) => KubernetesModel;

/** kubernetes-models lays its models out by API version: `kubernetes-models/apps/v1` exports `Deployment`. */
function modelFor(manifest: Manifest): ModelClass {
  const { apiVersion, kind } = manifest;
  if (!apiVersion || !kind) throw new Error('has no apiVersion or kind');
  let models: Record<string, ModelClass | undefined>;
  try {
    models = require(`kubernetes-models/${apiVersion}`);
  } catch {
    throw new Error(`uses apiVersion ${apiVersion}, which Kubernetes does not serve`);
  }
  const model = models[kind];
  if (!model) throw new Error(`uses kind ${kind}, which ${apiVersion} does not have`);
  return model;
}

/** The validator's message for one manifest, or undefined when it is valid. */
function problemWith(manifest: Manifest): string | undefined {
  try {
    const Model = modelFor(manifest);
    new Model(manifest).validate();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const manifests = readdirSync(manifestDir)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort()
  .flatMap((name) =>
    parseAllDocuments(readFileSync(join(manifestDir, name), 'utf8')).map((document, index) => ({
      where: `config/k8s/${name}#${index}`,
      manifest: document.toJS() as Manifest,
    })),
  )
  .filter(({ manifest }) => manifest != null);

describe('Kubernetes manifests (config/k8s), against the Kubernetes OpenAPI schemas', () => {
  it('should find the deployment, service, autoscaler, disruption budget and config map', () => {
    expect(manifests.map(({ manifest }) => manifest.kind).sort()).toEqual(
      expect.arrayContaining(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']),
    );
  });

  it.each(manifests.map(({ where, manifest }) => [`${where} (${manifest.kind} ${manifest.metadata?.name})`, manifest] as const))(
    'should validate %s',
    (_where, manifest) => {
      expect(problemWith(manifest)).toBeUndefined();
    },
  );

  // The validator must be able to fail, or a green run above proves nothing.
  it('should reject a deployment with a wrong type, a bad enum value or a missing required field', () => {
    const deployment = parse(readFileSync(join(manifestDir, 'deployment.yaml'), 'utf8'));
    deployment.spec.replicas = 'two';
    deployment.spec.template.spec.containers[0].imagePullPolicy = 'Sometimes';
    delete deployment.spec.selector;

    const problem = problemWith(deployment);

    expect(problem).toContain('data/spec/replicas must be integer');
    expect(problem).toContain('imagePullPolicy must be equal to one of the allowed values');
    expect(problem).toContain('data/spec must have required property selector');
  });

  it('should reject an apiVersion or kind that Kubernetes does not serve', () => {
    expect(problemWith({ apiVersion: 'autoscaling/v9', kind: 'HorizontalPodAutoscaler' })).toMatch(/apiVersion autoscaling\/v9/);
    expect(problemWith({ apiVersion: 'apps/v1', kind: 'Deploymnet' })).toMatch(/kind Deploymnet/);
  });
});
