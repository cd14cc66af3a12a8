export { ECHOED_KEY_SHAPED_TOKEN } from './presets';
export { startSimulator } from './simulator';
export type {
  CompletionLimits,
  FaultPreset,
  RunningSimulator,
  SimulatedFault,
  SimulatorCall,
  SimulatorConfig,
  SimulatorOptions,
} from './types';
