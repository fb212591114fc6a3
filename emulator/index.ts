// Local emulator of the Pingstreams realtime server: see docs/emulator.md.
import { EmulatorServer, DEV_SECRET } from './server';
import type { Emulator, EmulatorOptions } from './types';

export * from './types';
export { DEV_SECRET };
export { signJwt, verifyJwt } from './jwt';
export { defaultSeed, DEMO_IDS, DEMO_ROLES } from './seed';
export { STATUS, isOpenRequest } from './model';

/** Starts an emulator listening on loopback; resolves once it accepts connections. */
export function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  return new EmulatorServer(opts).start();
}
