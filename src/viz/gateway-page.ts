/**
 * The files of the `synack gateway --viz` page: prebuilt in the package
 * (dist/viz/gateway/, written by scripts/build.mjs), else — running from the
 * sources — bundled now with esbuild (build.ts, loaded only then: esbuild
 * is a development dependency).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GATEWAY_PAGE_FILES = ['index.html', 'style.css', 'app.js'] as const;

export async function loadGatewayPage(): Promise<Record<string, Uint8Array>> {
  const dir = fileURLToPath(new URL('./gateway/', import.meta.url));
  if (GATEWAY_PAGE_FILES.every((f) => existsSync(join(dir, f)))) return Object.fromEntries(GATEWAY_PAGE_FILES.map((f) => [f, readFileSync(join(dir, f))]));
  const { buildGatewayPage } = await import('./build.ts');
  return buildGatewayPage();
}
