import puppeteer, { type Browser } from 'puppeteer-core';

/** Headless Debian chromium (CHROMIUM_PATH, else /usr/bin/chromium; test/system-deps.sh installs it). --no-sandbox: CI runs as root. */
export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
}
