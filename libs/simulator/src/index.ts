export { startSimulator } from './simulator';
export type {
  FaultPreset,
  RunningSimulator,
  SimulatedFault,
  SimulatorCall,
  SimulatorConfig,
  SimulatorOptions,
} from './types';
