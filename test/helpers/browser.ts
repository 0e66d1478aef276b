import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium (apt-get install chromium); CI installs it. */
export const CHROMIUM = process.env.IMGSIFT_CHROMIUM ?? '/usr/bin/chromium';
/** Where browser tests leave their screenshots. */
export const SCREENSHOT_DIR = process.env.IMGSIFT_SCREENSHOTS ?? tmpdir();

export interface TestBrowser {
  context: BrowserContext;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Headless chromium with a fresh profile (playwright passes it as --user-data-dir). The page's CSP
 * forbids eval and the tests' string predicates need it, so CSP is bypassed for the tests (the app
 * itself never evals).
 */
export async function launchBrowser(opts: { width?: number; height?: number; deviceScaleFactor?: number } = {}): Promise<TestBrowser> {
  assert.ok(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: apt-get install -y chromium (or set IMGSIFT_CHROMIUM)`);
  const profile = await mkdtemp(join(tmpdir(), 'imgsift-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 },
    ...(opts.deviceScaleFactor ? { deviceScaleFactor: opts.deviceScaleFactor } : {}),
    bypassCSP: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-quic'],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
