// Admin routes of the queueing simulation: its ground truth (queue, waits, agents) and pause / resume, so a
// test or a supervisor's script can freeze the queue and compare what a client reports with what is.
import type { EmulatorServer } from './server';
import { EmulatorError } from './store';
import type { QueueSimulation } from './queue-simulation';

type Route = { method: string; pattern: RegExp; run: (emu: EmulatorServer) => unknown };

function simulationOf(emu: EmulatorServer): QueueSimulation {
  const sim = emu.simulation;
  if (!sim)
    throw new EmulatorError(
      409,
      'No queueing simulation is running: start the emulator with --simulate-queue RATE (arrivals per minute).',
    );
  return sim;
}

export const simulationRoutes: Route[] = [
  { method: 'GET', pattern: /^\/simulation$/, run: (emu) => simulationOf(emu).truth() },
  {
    method: 'POST',
    pattern: /^\/simulation\/pause$/,
    run: (emu) => {
      simulationOf(emu).pause();
      return { paused: true };
    },
  },
  {
    method: 'POST',
    pattern: /^\/simulation\/resume$/,
    run: (emu) => {
      simulationOf(emu).resume();
      return { paused: false };
    },
  },
];
