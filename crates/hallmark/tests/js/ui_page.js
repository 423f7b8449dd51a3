// Drives hallmark's page of signed states in headless Chromium (Debian's chromium through
// playwright-core): reads every row of the table, filters by repository and state through the
// page's own form (no JavaScript on the page), saves screenshots, and prints what it saw as
// one JSON object. Used by crates/hallmark/tests/ui_page.rs.
//
// node ui_page.js BASE_URL SCREENSHOT_DIR REPOSITORY_FILTER
'use strict';
const { chromium } = require('playwright-core');

async function rows(page) {
  return page.$$eval('#tags tbody tr', (trs) =>
    trs.map((tr) => ({
      repository: tr.dataset.repository,
      tag: tr.dataset.tag,
      state: tr.className,
      cells: Array.from(tr.querySelectorAll('td')).map((td) => td.innerText.trim()),
    })),
  );
}

(async () => {
  const [base, dir, filter] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--no-proxy-server'],
  });
  try {
    const page = await browser.newPage({ javaScriptEnabled: false });
    await page.goto(`${base}/ui/?repository=${encodeURIComponent(filter)}`);
    const all = await rows(page);
    await page.screenshot({ path: `${dir}/all.png`, fullPage: true });
    await page.fill('input[name=repository]', filter);
    await page.selectOption('select[name=state]', 'denied');
    await Promise.all([page.waitForURL(/state=denied/), page.click('button[type=submit]')]);
    const denied = await rows(page);
    await page.screenshot({ path: `${dir}/denied.png`, fullPage: true });
    console.log(JSON.stringify({ all, denied, url: page.url() }));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
