// The control room in headless Chromium, driven by tests/cli_serve_browser.rs
// against a running `concord serve`:
//
//   1. load `/` with the API token in an `Authorization` header;
//   2. every `#counts td[data-count-source]` cell, `#items-total` and
//      `#drifting-total` must equal `GET /api/v1/summary`;
//   3. click the first `a.item-link`; the item page must show the key, and its
//      `#history tr.history-row`s must be the history of `GET /api/v1/items/{key}`;
//   4. screenshots: control-room.png and item.png (failure.png on a failure).
//
// Environment: CONCORD_URL (http://127.0.0.1:PORT), CONCORD_TOKEN, ARTIFACTS_DIR,
// and optionally CHROMIUM (default /usr/bin/chromium, the Debian package; a
// downloaded browser is never used). Exits 0 when everything matches, 1 with
// a message naming the mismatch otherwise.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import path from "node:path";

const TIMEOUT_MS = 120_000;

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`control_room.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const base = env("CONCORD_URL");
const token = env("CONCORD_TOKEN");
const artifacts = env("ARTIFACTS_DIR");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

class Mismatch extends Error {}

function check(condition, message) {
  if (!condition) throw new Mismatch(message);
}

const show = (v) => JSON.stringify(v);

/** The server's percent-encoding of a key: everything but A-Z a-z 0-9 - . _ ~ */
function encodeKey(key) {
  return encodeURIComponent(key).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** `GET path` on the API with the token; its JSON. */
async function api(pathname) {
  const response = await fetch(new URL(pathname, base), {
    headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
  });
  const body = await response.text();
  check(response.ok, `GET ${pathname}: HTTP ${response.status}: ${body}`);
  return JSON.parse(body);
}

/** Loads `url` in `page`; the document must come back 200. */
async function load(page, url) {
  const response = await page.goto(url, { waitUntil: "load" });
  check(response !== null, `no response for ${url}`);
  check(response.status() === 200, `GET ${url}: HTTP ${response.status()}`);
}

/** `/` without a token is the sign-in form (401); a wrong token is said
 * so; the right one lands on the control room. */
async function signIn(page) {
  const first = await page.goto(new URL("/", base).href, { waitUntil: "load" });
  check(first?.status() === 401, `GET / without a token: HTTP ${first?.status()}, expected 401`);
  check(await page.locator("form#login").isVisible(), "no sign-in form on the 401 page");
  await page.fill("#login-token", "cct_0000000000000000000000000000000000000000000000000000000000000000");
  await Promise.all([page.waitForNavigation(), page.click("form#login button[type=submit]")]);
  check(await page.locator("#login-problem").isVisible(), "a wrong token was not refused on the page");
  await page.fill("#login-token", token);
  await Promise.all([page.waitForNavigation(), page.click("form#login button[type=submit]")]);
  const landed = await page.getAttribute("body", "data-page");
  check(landed === "control-room", `after signing in: body[data-page] = ${show(landed)}`);
  const cookies = await page.context().cookies();
  const cookie = cookies.find((c) => c.name === "concord_token");
  check(cookie?.httpOnly === true && cookie?.sameSite === "Strict", `the sign-in cookie: ${show(cookie)}`);
  console.log("signed in through the form: HttpOnly, SameSite=Strict cookie");
}

async function checkControlRoom(page, summary) {
  await load(page, new URL("/", base).href);
  check(
    (await page.getAttribute("body", "data-page")) === "control-room",
    `/ is not the control room (body[data-page] = ${show(await page.getAttribute("body", "data-page"))})`,
  );

  // Totals.
  const itemsTotal = await page.getAttribute("#items-total", "data-count");
  check(
    itemsTotal === String(summary.items),
    `#items-total[data-count] is ${show(itemsTotal)}, the API says items = ${show(summary.items)}`,
  );
  const drifting = await page.getAttribute("#drifting-total", "data-count");
  check(
    drifting === String(summary.drifting),
    `#drifting-total[data-count] is ${show(drifting)}, the API says drifting = ${show(summary.drifting)}`,
  );

  // Counts per source and status.
  const cells = await page.$$eval("#counts td[data-count-source]", (tds) =>
    tds.map((td) => ({
      source: td.getAttribute("data-count-source"),
      status: td.getAttribute("data-status"),
      count: td.getAttribute("data-count"),
      text: td.textContent.trim(),
      visible: td.offsetParent !== null,
    })),
  );
  const expected = new Map();
  for (const { source, by_status } of summary.by_source) {
    for (const [status, n] of Object.entries(by_status)) {
      expected.set(`${source}\u0000${status}`, n);
    }
  }
  check(
    summary.by_source.length > 0,
    "the API reports no counts; the test workspace should have synced items",
  );
  const seen = new Set();
  for (const cell of cells) {
    const id = `${cell.source}\u0000${cell.status}`;
    const where = `#counts cell source=${show(cell.source)} status=${show(cell.status)}`;
    check(!seen.has(id), `${where} appears twice`);
    seen.add(id);
    // A status that a source does not report is shown as 0.
    const want = expected.has(id) ? expected.get(id) : 0;
    check(cell.count === String(want), `${where}: data-count is ${show(cell.count)}, the API says ${want}`);
    check(cell.text === String(want), `${where}: shows ${show(cell.text)}, the API says ${want}`);
    check(cell.visible, `${where} is not visible`);
  }
  for (const [id, n] of expected) {
    const [source, status] = id.split("\u0000");
    check(seen.has(id), `#counts has no cell for source=${show(source)} status=${show(status)} (the API says ${n})`);
  }
  const rows = await page.$$eval("#counts tr[data-source]", (trs) => trs.map((tr) => tr.getAttribute("data-source")));
  check(
    show(rows) === show(summary.by_source.map((s) => s.source)),
    `#counts rows are ${show(rows)}, the API's sources are ${show(summary.by_source.map((s) => s.source))}`,
  );
  const totals = new Map(
    await page.$$eval("#counts td[data-total-source]", (tds) =>
      tds.map((td) => [td.getAttribute("data-total-source"), td.getAttribute("data-count")]),
    ),
  );
  for (const { source, by_status } of summary.by_source) {
    const total = Object.values(by_status).reduce((a, b) => a + b, 0);
    const shown = totals.get(source);
    check(shown === String(total), `#counts total of ${show(source)} is ${show(shown)}, the API's counts add up to ${total}`);
  }

  // Drift rows and item links: every drift row and journal entry links its item.
  const driftKeys = await page.$$eval("#drift tr.drift-row", (trs) => trs.map((tr) => tr.getAttribute("data-key")));
  check(
    show(driftKeys) === show(summary.drift.map((d) => d.key)),
    `#drift rows are ${show(driftKeys)}, the API's drift is ${show(summary.drift.map((d) => d.key))}`,
  );
  const driftHub = await page.$$eval("#drift tr.drift-row td[data-source=hub]", (tds) =>
    tds.map((td) => td.textContent.trim()),
  );
  const apiDriftHub = summary.drift.map((d) => d.hub ?? "—");
  check(
    show(driftHub) === show(apiDriftHub),
    `#drift hub values are ${show(driftHub)}, the API's are ${show(apiDriftHub)}`,
  );
  const links = await page.$$eval("a.item-link", (as) =>
    as.map((a) => ({ href: a.getAttribute("href"), text: a.textContent })),
  );
  const linked = summary.drift.map((d) => d.key).concat(summary.events.map((e) => e.key).filter((k) => k));
  check(
    show(links.map((l) => l.text)) === show(linked),
    `a.item-link texts are ${show(links.map((l) => l.text))}, expected the drift and journal keys ${show(linked)}`,
  );
  check(links.length > 0, "the control room links no item (no drift and no journal entries)");
  for (const link of links) {
    check(
      link.href === `/items/${encodeKey(link.text)}`,
      `a.item-link for ${show(link.text)} points to ${show(link.href)}, expected ${show(`/items/${encodeKey(link.text)}`)}`,
    );
  }

  // The script's live refresh opens the event stream (with the token the
  // context sends): the badge says "live"; "polling" or "offline" means it failed.
  await page.waitForSelector("#live-status[data-state]", { timeout: 10_000 });
  const live = await page.getAttribute("#live-status", "data-state");
  check(live === "live", `#live-status is ${show(live)}, expected "live" (the /api/v1/stream event stream did not open)`);

  console.log(
    `control room: ${cells.length} count cells over ${rows.length} sources match /api/v1/summary; ` +
      `items ${summary.items}, drifting ${summary.drifting}, ${links.length} item links`,
  );
  await page.screenshot({ path: path.join(artifacts, "control-room.png"), fullPage: true });
  return links[0];
}

async function checkItemPage(page, link) {
  const key = link.text;
  await Promise.all([
    page.waitForURL((url) => url.pathname === link.href, { waitUntil: "load" }),
    page.locator("a.item-link").first().click(),
  ]);
  const item = await api(`/api/v1/items/${encodeKey(key)}`);

  check(
    (await page.getAttribute("body", "data-page")) === "item",
    `${link.href} is not an item page (body[data-page] = ${show(await page.getAttribute("body", "data-page"))})`,
  );
  const heading = page.locator("h1.item-key");
  check(await heading.isVisible(), `${link.href}: h1.item-key is not visible`);
  const shownKey = (await heading.textContent()).trim();
  check(shownKey === key, `${link.href}: h1.item-key shows ${show(shownKey)}, the link was ${show(key)}`);
  const bodyKey = await page.getAttribute("body", "data-item-key");
  check(bodyKey === key, `${link.href}: body[data-item-key] is ${show(bodyKey)}, expected ${show(key)}`);

  const history = await page.$$eval("#history tr.history-row", (trs) =>
    trs.map((tr) => tr.getAttribute("data-history-id")),
  );
  const apiHistory = item.history.map((h) => String(h.id));
  check(
    history.length === item.history.length,
    `${link.href}: ${history.length} #history rows, /api/v1/items/${encodeKey(key)} has ${item.history.length} history entries`,
  );
  check(show(history) === show(apiHistory), `${link.href}: history ids ${show(history)}, the API's are ${show(apiHistory)}`);

  const sources = await page.$$eval("#sources tr.source-row", (trs) => trs.map((tr) => tr.getAttribute("data-source")));
  check(
    show(sources) === show(item.sources.map((s) => s.source)),
    `${link.href}: #sources rows ${show(sources)}, the API's sources are ${show(item.sources.map((s) => s.source))}`,
  );
  if (item.hub) {
    const hubStatus = (await page.locator('#hub dd[data-field="status"]').textContent()).trim();
    check(hubStatus === item.hub.status, `${link.href}: hub status shows ${show(hubStatus)}, the API says ${show(item.hub.status)}`);
  }
  check(await page.locator("#explain").isVisible(), `${link.href}: #explain is not visible`);

  console.log(
    `item ${key}: ${history.length} history rows and ${sources.length} sources match /api/v1/items/${encodeKey(key)}`,
  );
  await page.screenshot({ path: path.join(artifacts, "item.png"), fullPage: true });
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const summary = await api("/api/v1/summary");
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    // Root in a container: no sandbox; a small /dev/shm: use /tmp.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  console.log(`browser: Chromium ${browser.version()} at ${executablePath}`);
  let page;
  try {
    // As a person would: no header, the sign-in form, then a cookie.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    await signIn(page);
    const errors = [];
    page.on("pageerror", (e) => errors.push(`script error: ${e.message}`));
    // Failed requests are reported by URL below; the browser's console line
    // for them ("Failed to load resource") names no URL.
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
        errors.push(`console error: ${m.text()}`);
      }
    });
    page.on("requestfailed", (r) => {
      // Leaving a page aborts its event stream; that is not an error.
      if (r.failure()?.errorText !== "net::ERR_ABORTED") {
        errors.push(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
      }
    });
    page.on("response", (r) => {
      // Chromium asks for /favicon.ico by itself; the server has none.
      if (r.status() >= 400 && new URL(r.url()).pathname !== "/favicon.ico") {
        errors.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
      }
    });

    const link = await checkControlRoom(page, summary);
    await checkItemPage(page, link);
    check(errors.length === 0, `the pages reported errors:\n  ${errors.join("\n  ")}`);
  } catch (e) {
    if (page) {
      await page
        .screenshot({ path: path.join(artifacts, "failure.png"), fullPage: true })
        .catch(() => {});
    }
    throw e;
  } finally {
    await browser.close();
  }
}

const timer = setTimeout(() => {
  console.error(`control_room.mjs: timed out after ${TIMEOUT_MS / 1000} s`);
  process.exit(1);
}, TIMEOUT_MS);
timer.unref();

try {
  await main();
  console.log(`screenshots in ${artifacts}`);
} catch (e) {
  console.error(e instanceof Mismatch ? `mismatch: ${e.message}` : e);
  process.exitCode = 1;
}
