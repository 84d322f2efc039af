/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * for the browser tests: one launch recipe — no sandbox (root in CI), no
 * GPU, no QUIC, no background networking, component updates or sync, so the
 * browser talks to nothing but the loopback pages the tests serve.
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A persistent headless context on the profile folder `profile`. */
export function launchChromium(profile: string, viewport?: { width: number; height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, ...(viewport ? { viewport } : {}), args: ARGS });
}

/** The page's uncaught errors and console errors, collected from now on. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}
