// Screenshot of an `opnas report` page in headless Chromium, for the README:
//   node docs/report-screenshot.mjs REPORT.html OUT.png [WIDTH] [SCALE]
// Chromium: $CHROMIUM_PATH, else /usr/bin/chromium (Debian's; apt-get install chromium).
import puppeteer from 'puppeteer-core';

const [file, png, width = '1100', scale = '1'] = process.argv.slice(2);
if (!file || !png) {
  console.error('usage: node docs/report-screenshot.mjs REPORT.html OUT.png [WIDTH] [SCALE]');
  process.exit(1);
}
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage();
  await page.setViewport({ width: Number(width), height: 900, deviceScaleFactor: Number(scale) });
  await page.goto(new URL(file, `file://${process.cwd()}/`).href);
  await page.waitForSelector('body[data-rendered]');
  if ((await page.evaluate(() => document.body.dataset.rendered)) !== 'true') throw new Error('a chart failed to render');
  await page.screenshot({ path: png, fullPage: true });
} finally {
  await browser.close();
}
