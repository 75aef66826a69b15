// Drives headless Chromium (Debian's, via playwright-core: no browser download) through the
// harness page and prints what a user would see, as JSON, for the pytest side to assert on.
//
//   node test/drive.mjs URL OUT_DIR [NOW] [WIDTH]
//
// NOW (RFC 3339), when given, is the page's clock (Date.now), fixed for the whole run; WIDTH
// the window's width in CSS pixels (default 1280).
// It records every request the page makes, every console message, page error and dialog (an
// alert would mean text ran as script), what the sections say before any answer arrives, clicks
// the status panel item (its flyout opens), opens the first patch in the timeline, waits until
// no "Loading" text is left, measures how far each section is wider than its box (text that
// neither wraps nor clips), and screenshots each section into OUT_DIR.
import { chromium } from "playwright-core";

const [url, out, now, width] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
  timeout: 30000,
});
const result = { console: [], pageErrors: [], dialogs: [], requests: [], sections: {}, early: {}, overflow: {}, counts: {}, shots: [] };
try {
  const page = await browser.newPage({ viewport: { width: Number(width) || 1280, height: 900 } });
  if (now) await page.clock.setFixedTime(new Date(now));
  page.on("console", (m) => result.console.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  page.on("dialog", (d) => {
    result.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on("request", (r) =>
    result.requests.push({ url: r.url(), method: r.method(), headers: r.headers() }),
  );
  await page.goto(url, { waitUntil: "load", timeout: 20000 });
  const settle = () =>
    page.waitForFunction(() => !document.body.innerText.includes("Loading"), null, { timeout: 15000 });
  await page.waitForSelector("#app-tab", { timeout: 10000 });
  result.early["app-tab"] = await page.$eval("#app-tab", (e) => e.innerText);
  const started = Date.now();
  await settle();
  result.settledAfterMs = Date.now() - started;
  result.registrations = await page.evaluate(() => window.truthgateHarness.registrations());
  const item = await page.$("[data-testid=status-panel]");
  if (item) {
    await item.click();
    await page.waitForSelector("#flyout", { timeout: 5000 });
    await settle();
  }
  const patch = await page.$("#app-tab button");
  if (patch) {
    await patch.click();
    await page.waitForSelector("[data-testid=patch]", { timeout: 5000 });
  }
  for (const id of ["status-panel", "flyout", "resource-tab", "app-tab"]) {
    const el = await page.$(`#${id}`);
    if (!el) continue;
    result.sections[id] = await el.innerText();
    result.overflow[id] = await el.evaluate((e) => e.scrollWidth - e.clientWidth);
    const file = `${out}/${id}.png`;
    await el.screenshot({ path: file });
    result.shots.push(file);
  }
  result.pageOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  result.counts = await page.evaluate(() => {
    const n = (sel) => document.querySelectorAll(sel).length;
    return {
      findings: n("#resource-tab [data-testid=finding]"),
      flyoutFindings: n("#flyout [data-testid=finding]"),
      findingLinks: n("#resource-tab [data-testid=finding] a"),
      metrics: n("#app-tab [data-testid=metric]"),
      series: n("#app-tab [data-testid=series]"),
      bands: n("#app-tab [data-testid=verdict-band]"),
      baselineWindows: n("#app-tab [data-testid=baseline-window]"),
      changeMarkers: n("#app-tab [data-testid=change-marker]"),
      events: n("#app-tab [data-testid^=event-]"),
      breakGlass: n("#app-tab [data-testid=event-break-glass]"),
      verdictEvents: n("#app-tab [data-testid=event-verdict]"),
      readErrors: n("[data-testid=read-error]"),
      patches: n("[data-testid=patch]"),
    };
  });
  result.metricVerdicts = await page.$$eval("#app-tab [data-testid=metric-verdict]", (els) =>
    els.map((e) => e.textContent),
  );
  result.seriesRuns = await page.$$eval("#app-tab [data-testid=series]", (els) =>
    els.map((e) => (e.getAttribute("d") || "").split("M").length - 1),
  );
  result.flyoutChecks = await page.$$eval("#flyout [data-testid=flyout-check]", (els) =>
    els.map((e) => ({ text: e.innerText, findings: e.querySelectorAll("[data-testid=finding]").length })),
  );
  result.links = await page.$$eval("#resource-tab [data-testid=finding] a", (els) =>
    els.map((e) => e.getAttribute("href")),
  );
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result));
