export type { CongestionController, CongestionAlgorithm } from './controller.ts';
import type { CongestionAlgorithm, CongestionController } from './controller.ts';
import { NewReno } from './newreno.ts';
import { Cubic } from './cubic.ts';
export { NewReno, Cubic };

export function createCongestionController(name: CongestionAlgorithm): CongestionController {
  return name === 'newreno' ? new NewReno() : new Cubic();
}
