// Drives Debian's chromium through the dashboard's migration panel against a running host: log in → find the
// users without an app (dry run) → start the migration → the Cancel button shows while it runs → cancel it
// (confirmed) → the panel says Cancelled and the button goes. Run by components/fleet-admin/tests/
// migration_browser.rs, which checks the stored migration behind it. Environment: BASE_URL, ADMIN_TOKEN,
// USERS (how many the dry run must find), CHROMIUM.
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
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
  page.on("pageerror", (e) => { throw new Error(`page error: ${e.message}`); });

  step("log in");
  await page.goto(`${env("BASE_URL")}/admin`);
  await page.fill("#token", env("ADMIN_TOKEN"));
  await page.click("#login-btn");
  await page.waitForSelector("#app-view:not(.hidden)");

  step("dry run");
  await page.click("#mig-dry");
  await page.waitForFunction((n) => document.querySelector("#mig-body")?.textContent.includes(`${n} entitled users have no app`), env("USERS"));
  if (await page.isVisible("#mig-cancel")) throw new Error("Cancel shows before any migration");

  step("start");
  await page.click("#mig-start");
  await page.click("#c-ok");
  await page.waitForSelector("#mig-cancel:not(.hidden)");
  await page.waitForFunction(() => document.querySelector("#mig-progress")?.textContent.includes("Running"));

  step("cancel");
  await page.click("#mig-cancel");
  await page.click("#c-ok");
  await page.waitForFunction(() => document.querySelector("#mig-progress")?.textContent.includes("Cancelled"));
  await page.waitForSelector("#mig-cancel.hidden", { state: "attached" });
  if (await page.isDisabled("#mig-start")) throw new Error("Start stays disabled after a cancel");
  step("done");
} finally {
  await browser.close();
}
