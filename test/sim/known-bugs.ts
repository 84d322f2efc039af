/**
 * Core bugs the simulator and the fuzzer have found and that are not fixed
 * yet, each with its repro test. A history that fails with one of these
 * signatures is reported as a TODO in `npm test` instead of failing the
 * build; any other failure fails it. Remove an entry when its bug is fixed
 * (its repro test's `todo` goes at the same time).
 */
export interface KnownBug {
  name: string;
  repro: string;
  matches(kind: string, message: string): boolean;
}

export const KNOWN_BUGS: KnownBug[] = [];

/** The known bug a failure matches, if any. */
export function knownBug(kind: string, message: string): KnownBug | undefined {
  return KNOWN_BUGS.find((b) => b.matches(kind, message));
}
