import { headerFault, modelAndFault, serveWithFault, type ApiContext } from './api-context';
import { firstHalfOf } from './http-io';
import { errorBody } from './openai-shapes';

const MODELS: ReadonlyArray<readonly [id: string, created: number]> = [
  ['gpt-4o', 1715367049],
  ['gpt-4o-mini', 1721172741],
  ['gpt-4.1', 1744316542],
  ['gpt-4.1-mini', 1744318173],
  ['gpt-3.5-turbo', 1677610602],
  ['o4-mini', 1744225351],
];

const modelObject = ([id, created]: readonly [string, number]) => ({ id, object: 'model', created, owned_by: 'tollgate-simulator' });

/** The fixed model list, serialised once. */
const MODEL_LIST_JSON = JSON.stringify({ object: 'list', data: MODELS.map(modelObject) });

/** GET /v1/models: its faults come from the header, the queue (those without a model match) or at random. */
export async function serveModels(ctx: ApiContext): Promise<void> {
  const fault = ctx.state.nextFault({ header: headerFault(ctx) });
  await serveWithFault(ctx, fault, { stream: false }, (outcome) =>
    ctx.ex.sendJson(200, outcome.truncated ? firstHalfOf(MODEL_LIST_JSON) : MODEL_LIST_JSON),
  );
}

/** GET /v1/models/{id}: one of the listed models, or OpenAI's 404 for any other. */
export async function serveModel(ctx: ApiContext): Promise<void> {
  const requested = ctx.route.modelId ?? '';
  ctx.ex.call.model = requested;
  const { model, fault } = modelAndFault(ctx, requested);
  await serveWithFault(ctx, fault, { model, stream: false }, (outcome) => {
    const known = MODELS.find(([id]) => id === model);
    if (!known) {
      const body = errorBody(`The model '${model}' does not exist`, 'invalid_request_error', 'model', 'model_not_found');
      return ctx.ex.sendJson(404, JSON.stringify(body));
    }
    const json = JSON.stringify(modelObject(known));
    ctx.ex.sendJson(200, outcome.truncated ? firstHalfOf(json) : json);
  });
}
