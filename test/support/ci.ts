/**
 * One definition of "running in CI" for every test that must not skip
 * there: any non-empty `CI` variable (`1`, `true`, `yes`, as CI services set
 * it), except the explicit negatives `false` and `0`.
 */
export function inCi(env: Record<string, string | undefined> = process.env): boolean {
  const v = (env['CI'] ?? '').trim().toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}
