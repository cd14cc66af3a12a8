import type { Exchange } from './exchange';
import { FAULT_HEADER, parseFaultHeader, splitModelFault } from './faults';
import { parseJson, readBody } from './http-io';
import { faultLabel, outcomeOf, type FaultContext, type FaultOutcome } from './presets';
import type { Route } from './routes';
import type { SimulatorState } from './state';
import type { CompletionLimits, SimulatedFault } from './types';
import { isRecord } from './validation';

/** An accepted API call on its way to its endpoint. */
export interface ApiContext {
  ex: Exchange;
  state: SimulatorState;
  route: Route;
  apiKey?: string;
  organization: string;
}

type RespondOutcome = Extract<FaultOutcome, { kind: 'respond' }>;

/** The JSON body; on Azure's deployment paths the deployment stands for the model, whatever the body says. */
export async function readRequestBody({ ex, route }: ApiContext): Promise<unknown> {
  const body = parseJson(await readBody(ex.req));
  return route.deployment !== undefined && isRecord(body) ? { ...body, model: route.deployment } : body;
}

/** What a generating endpoint's request says of the call, in its record. */
export function recordRequest({ ex }: ApiContext, request: { model: string; stream: boolean; completionLimits?: CompletionLimits }): void {
  ex.call.model = request.model;
  ex.call.stream = request.stream;
  ex.call.completionLimits = request.completionLimits;
}

export function headerFault({ ex }: ApiContext): SimulatedFault | undefined {
  return parseFaultHeader(ex.req.headers[FAULT_HEADER]);
}

/** The model without its `:fault=` suffix, and the call's fault: from the header, the suffix, the queue or at random. */
export function modelAndFault(ctx: ApiContext, requestedModel: string): { model: string; fault?: SimulatedFault } {
  const header = headerFault(ctx);
  const { model, fault: modelName } = splitModelFault(requestedModel);
  return { model, fault: ctx.state.nextFault({ header, modelName, model }) };
}

/** Waits the latency, then answers with the fault's outcome or, when it calls for a response, `respond`. */
export async function serveWithFault(
  ctx: ApiContext,
  fault: SimulatedFault | undefined,
  situation: Pick<FaultContext, 'model' | 'stream' | 'reportsFailureInBody'>,
  respond: (outcome: RespondOutcome) => void | Promise<void>,
): Promise<void> {
  const { ex, state } = ctx;
  if (fault) ex.call.fault = faultLabel(fault);
  const faultContext: FaultContext = { ...situation, apiKey: ctx.apiKey, organization: ctx.organization };
  const outcome: FaultOutcome = fault ? outcomeOf(fault, faultContext) : { kind: 'respond' };
  await ex.delay(fault?.latencyMs ?? state.config.latencyMs);
  switch (outcome.kind) {
    case 'error':
      return ex.sendError(outcome.response);
    case 'hang':
      return; // left open until the client goes away or close()
    case 'reset':
      return ex.reset();
    case 'respond':
      return respond(outcome);
  }
}
