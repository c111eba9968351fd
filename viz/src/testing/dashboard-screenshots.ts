/**
 * Screenshots of dashboard pages in a real headless Chromium (Debian
 * `chromium` via playwright-core) for tests that run a mesh: each page is
 * opened with the window given, shot once its three charts hold data, and
 * saved as `<dir>/<name>.png`. Returns the paths (for the test to print).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** viz/test-artifacts/ (git-ignored): where dashboard screenshots are kept. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

// Page functions run in the browser; this is the little of the DOM they use.
declare const document: { querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> };

export interface DashboardPage {
  readonly name: string;
  /** e.g. `#/ns/demo`. */
  readonly hash: string;
}

export async function screenshotDashboard(
  webUrl: string,
  pages: readonly DashboardPage[],
  opts: { window?: string; colorScheme?: 'light' | 'dark'; dir?: string } = {},
): Promise<string[]> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is not installed (Debian package chromium)`);
  const dir = opts.dir ?? ARTIFACTS;
  mkdirSync(dir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), 'weft-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 1000 },
    colorScheme: opts.colorScheme ?? 'light',
  });
  const paths: string[] = [];
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    for (const p of pages) {
      await page.goto(`${webUrl}/${p.hash}`);
      if (opts.window) await page.locator('#window').selectOption(opts.window);
      await page.waitForFunction(
        () =>
          Array.from(document.querySelectorAll('[data-testid=chart]')).filter((c) => Number(c.getAttribute('data-points')) > 0).length ===
          3,
        undefined,
        { timeout: 90_000 },
      );
      const path = join(dir, `${p.name}.png`);
      await page.screenshot({ path, fullPage: true });
      paths.push(path);
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return paths;
}
