// Drives Debian's chromium through the admin dashboard of a running local run:
// log in → wait until Recent signals shows the seeded Pro user's code traders' signals with their language
// badges → downgrade the seeded Pro user → upgrade them → wait until the app is healthy with a trader count →
// screenshot → downgrade. Run by tests/local-run/tests/browser.rs, which starts the local run and checks the
// processes and rows behind each step. Environment: BASE_URL, ADMIN_TOKEN, USER_ID, TRADER_COUNT,
// SIGNAL_TRADERS (JSON: [{"name", "language", "badge"}]), SCREENSHOT, CHROMIUM.
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE_URL = env("BASE_URL"), USER_ID = env("USER_ID"), TRADER_COUNT = env("TRADER_COUNT");
const SIGNAL_TRADERS = JSON.parse(env("SIGNAL_TRADERS"));
const step = (what) => console.log(`[browser] ${what}`);

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
try {
  page.setDefaultTimeout(15000);
  page.on("pageerror", (e) => console.log(`[page error] ${e.message}`));

  step("log in");
  await page.goto(`${BASE_URL}/admin`);
  await page.fill("#token", env("ADMIN_TOKEN"));
  await page.click("#login-btn");
  await page.waitForSelector("#app-view:not(.hidden)");

  // The Alerts panel (GET /admin/api/alerts) renders with the page: what fires now, then the history.
  step("the Alerts panel renders");
  await page.waitForSelector("#alerts-panel #alerts-firing", { timeout: 30000 });
  const alertsHead = await page.textContent("#alerts-count");
  if (!/\d+ firing · \d+ notifications shown/.test(alertsHead)) throw new Error(`Alerts panel header: ${alertsHead}`);

  // The seeded Pro user's app runs from the first second and its traders fire on the replay sample: the panel
  // (refreshed with the page) must show a signal of each expected trader, of that user, with its language badge.
  step(`wait until Recent signals shows ${SIGNAL_TRADERS.map((t) => `${t.name} [${t.badge}]`).join(" and ")}`);
  const shown = ({ traders, user }) => traders.every((t) =>
    [...document.querySelectorAll("#signals tr[data-signal]")].some((tr) =>
      tr.querySelector("td.trader")?.textContent === t.name &&
      tr.querySelector("td.user")?.title === user &&
      tr.dataset.language === t.language &&
      tr.querySelector(`.badge[data-language="${t.language}"]`)?.textContent === t.badge));
  try {
    await page.waitForFunction(shown, { traders: SIGNAL_TRADERS, user: USER_ID }, { timeout: 150000, polling: 500 });
  } catch (error) {
    const rows = await page.$$eval("#signals tr", (trs) => trs.map((tr) => tr.innerText.replace(/\s+/g, " ")));
    console.log(`[browser] Recent signals at the timeout:\n  ${rows.join("\n  ")}`);
    throw error;
  }
  step("the code traders' signals are shown with Go and JavaScript badges");

  const row = `#apps tr[data-user="${USER_ID}"]`;
  step("select the demo user's app");
  await page.waitForSelector(row, { timeout: 60000 });
  await page.click(row);
  await page.waitForSelector("#tier-select");

  // Live refresh re-renders the detail panel (and its tier picker) every 3 s: pause it, let a refresh in flight
  // finish (the page's state S.busy), and only then pick the tier, so no re-render can undo the choice.
  const setTier = async (tier) => {
    await page.uncheck("#live");
    await page.waitForFunction(() => !S.busy);
    await page.selectOption("#tier-select", tier);
    const chosen = await page.inputValue("#tier-select");
    if (chosen !== tier) throw new Error(`the tier picker shows ${chosen}, not ${tier}`);
    await page.click("#act-tier");
    await page.click("#c-ok");
    // The answer comes once the tier is set and the reconcile pass ran (or ran out of its budget).
    const toast = await page.waitForSelector(`#toasts div:has-text("Tier set to ${tier}"), #toasts div:has-text("refused")`,
                                             { timeout: 60000 });
    const text = await toast.textContent();
    if (!text.startsWith(`Tier set to ${tier}`)) throw new Error(`the dashboard said: ${text}`);
    await page.check("#live");
  };
  const statusIs = (status, timeout) =>
    page.waitForFunction((s) => document.querySelector("#detail-status")?.textContent === s, status, { timeout });

  step("downgrade to free (the seeded user starts on Pro)");
  await setTier("free");
  await statusIs("deleted", 90000);

  step("upgrade to elite");
  await setTier("elite");
  await statusIs("active", 90000);
  step("wait until healthy with its trader count");
  await page.waitForFunction(
    (n) => {
      const health = document.querySelector("#detail-health")?.textContent || "";
      return health.includes("healthy") && !health.includes("unhealthy") && health.includes(`${n} traders`);
    },
    TRADER_COUNT,
    { timeout: 90000 },
  );
  await page.waitForSelector(`${row} >> text=healthy`);
  await page.screenshot({ path: env("SCREENSHOT"), fullPage: true });
  step(`screenshot saved to ${env("SCREENSHOT")}`);

  step("downgrade again");
  await setTier("free");
  await statusIs("deleted", 90000);
  step("done");
} catch (error) {
  const failure = env("SCREENSHOT").replace(/\.png$/, "-failure.png");
  await page.screenshot({ path: failure, fullPage: true }).catch(() => {});
  console.log(`[browser] failed; the page at that moment is in ${failure}`);
  throw error;
} finally {
  await browser.close();
}
