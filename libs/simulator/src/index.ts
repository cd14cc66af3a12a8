export { keyFingerprint } from './keys';
export { ECHOED_KEY_SHAPED_TOKEN } from './presets';
export { startSimulator } from './simulator';
export type {
  AcceptedKey,
  AuthStyle,
  CompletionLimits,
  Endpoint,
  FaultPreset,
  RunningSimulator,
  SimulatedFault,
  SimulatorCall,
  SimulatorConfig,
  SimulatorOptions,
} from './types';
