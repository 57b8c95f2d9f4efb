// The control room in headless Chromium, driven by tests/cli_serve_browser.rs
// against a running `concord serve`:
//
//   1. sign in through the form (the cookie it sets carries the token);
//   2. every `#counts td[data-count-source]` cell, `#items-total` and
//      `#drifting-total` must equal `GET /api/v1/summary`, and the items
//      total `concord status --json`'s (STATUS_ITEMS);
//   3. the panels: items not yet in the hub (marked so), repositories,
//      mirrors (owners, stale and edited copies), release trains (status,
//      steps, what is live), status columns under their workflow, `<time>`
//      elements with the exact time in their title, no horizontal
//      scrolling at 1,280 px;
//   4. a repo page and a source page list what `GET /api/v1/repos/{name}`
//      and `/api/v1/sources/{name}` say, the new item marked not in the hub;
//   5. click the first `a.item-link`; the item page must show the key, its
//      `#history tr.history-row`s the history of `GET /api/v1/items/{key}`,
//      and the explanation as text;
//   6. screenshots at 1,280 and 390 px (failure.png on a failure); at 390 px
//      the page must not scroll sideways either.
//
// Environment: CONCORD_URL (http://127.0.0.1:PORT), CONCORD_TOKEN, ARTIFACTS_DIR,
// STATUS_ITEMS (the item count of `concord status --json` on the same workspace),
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
const statusItems = env("STATUS_ITEMS");
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
  const linked = summary.drift
    .map((d) => d.key)
    .concat(summary.not_in_hub_items.map((i) => i.key))
    .concat(summary.events.map((e) => e.key).filter((k) => k));
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
  await checkPanels(page, summary);
  await screenshots(page, "control-room");
  return links[0];
}

/** Saves `name.png` at 1,280 px and `name-390.png` at 390 px; neither
 * width may scroll sideways. */
async function screenshots(page, name, widths = [1280, 390]) {
  const original = page.viewportSize();
  for (const width of widths) {
    await page.setViewportSize({ width, height: 900 });
    await noSidewaysScroll(page, `${name} at ${width} px`);
    const file = width === 1280 ? `${name}.png` : `${name}-${width}.png`;
    await page.screenshot({ path: path.join(artifacts, file), fullPage: true });
  }
  await page.setViewportSize(original);
}

async function noSidewaysScroll(page, where) {
  const { scrollWidth, innerWidth, wide } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    // the widest element, to name in the message
    wide: [...document.querySelectorAll("main *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 3)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`),
  }));
  check(scrollWidth <= innerWidth, `${where}: the page scrolls sideways (scrollWidth ${scrollWidth} > ${innerWidth}; ${show(wide)})`);
  if (innerWidth >= 1280) {
    // At 1,280 px no table scrolls inside its panel either.
    const scrolling = await page.$$eval(".scroll", (ds) =>
      ds
        .filter((d) => d.scrollWidth > d.clientWidth + 1)
        .map((d) => `${d.closest("section")?.id}: ${d.scrollWidth} > ${d.clientWidth}`),
    );
    check(scrolling.length === 0, `${where}: tables scroll sideways inside their panels: ${show(scrolling)}`);
  }
}

/** The panels beyond the counts: each present, with the API's content. */
async function checkPanels(page, summary) {
  // The item count is the CLI's.
  check(
    String(summary.items) === statusItems,
    `/api/v1/summary says items = ${summary.items}, concord status --json says ${statusItems}`,
  );

  // Items not yet in the hub: the count, one marked row per listed item.
  check(summary.not_in_hub > 0, "the API lists no item not yet in the hub; the test adds one after the sync");
  const nih = await page.getAttribute("#not-in-hub-total", "data-count");
  check(nih === String(summary.not_in_hub), `#not-in-hub-total is ${show(nih)}, the API says ${summary.not_in_hub}`);
  const nihRows = await page.$$eval("#not-in-hub tr.not-in-hub-row", (trs) =>
    trs.map((tr) => ({ key: tr.getAttribute("data-key"), marked: tr.querySelector(".marker.not-in-hub") !== null })),
  );
  check(
    show(nihRows.map((r) => r.key)) === show(summary.not_in_hub_items.map((i) => i.key)),
    `#not-in-hub rows are ${show(nihRows.map((r) => r.key))}, the API's are ${show(summary.not_in_hub_items.map((i) => i.key))}`,
  );
  check(nihRows.every((r) => r.marked), `a #not-in-hub row lacks the "not yet in the hub" marker: ${show(nihRows)}`);
  check(nihRows.some((r) => r.key === "CUST-WP-0026-T09"), `the task added after the sync is not listed: ${show(nihRows)}`);

  // Status columns under a header per workflow.
  const groups = await page.$$eval("#counts th.workflow", (ths) =>
    ths.map((th) => ({ name: th.getAttribute("data-workflow"), span: Number(th.getAttribute("colspan")) })),
  );
  const workflows = summary.workflows.map((w) => w.name);
  check(groups.length > 0, "#counts has no workflow header");
  for (const g of groups) {
    check(g.name === "" || workflows.includes(g.name), `#counts groups columns under ${show(g.name)}, not a workflow of ${show(workflows)}`);
  }
  const columns = await page.$$eval("#counts thead th[data-status-value]", (ths) => ths.length);
  const spanned = groups.reduce((a, g) => a + g.span, 0);
  check(spanned === columns, `the workflow headers span ${spanned} columns, there are ${columns} status columns`);

  // Repositories: one row per repo, linking its page.
  const repos = [...new Set(summary.sources.map((s) => s.repo))];
  const repoRows = await page.$$eval("#repos tr.repo-row", (trs) => trs.map((tr) => tr.getAttribute("data-repo")));
  check(show(repoRows) === show(repos), `#repos rows are ${show(repoRows)}, the API's repos are ${show(repos)}`);

  // Mirrors: owners and copies by state, with the stale and the edited copy.
  check(summary.mirrors.length === 1, `the API reports ${summary.mirrors.length} mirror rules, the test has one`);
  const rule = summary.mirrors[0];
  for (const state of ["stale", "edited"]) {
    check((rule.by_state[state] ?? 0) > 0, `the API's mirror health has no ${state} copy: ${show(rule.by_state)}`);
    const shown = await page.locator(`#mirrors .chip[data-state="${state}"] strong`).textContent();
    check(shown === String(rule.by_state[state]), `#mirrors shows ${show(shown)} ${state} copies, the API ${rule.by_state[state]}`);
  }
  const owners = await page.$$eval("#mirrors .chip[data-owner]", (lis) => lis.map((li) => li.getAttribute("data-owner")));
  check(show(owners) === show(Object.keys(rule.owners)), `#mirrors owners ${show(owners)}, the API's ${show(Object.keys(rule.owners))}`);
  const docs = await page.$$eval("#mirrors tr.mirror-doc", (trs) => trs.map((tr) => tr.getAttribute("data-path")));
  check(
    show(docs) === show(rule.attention.map((d) => d.path)),
    `#mirrors documents needing attention ${show(docs)}, the API's ${show(rule.attention.map((d) => d.path))}`,
  );

  // Release trains: status, steps, what is live.
  check(summary.trains.length > 0, "the API reports no release train; the test imports a shipped one");
  const train = summary.trains[0];
  const trainStatus = await page.getAttribute(`#trains details.train[data-train-id="${train.id}"]`, "data-status");
  check(trainStatus === train.status, `#trains shows train ${train.id} as ${show(trainStatus)}, the API says ${show(train.status)}`);
  await page.locator(`#trains details.train[data-train-id="${train.id}"] summary`).click();
  const steps = await page.$$eval(`#trains details.train[data-train-id="${train.id}"] li.step`, (lis) =>
    lis.map((li) => li.getAttribute("data-outcome")),
  );
  check(
    show(steps) === show(train.steps.map((s) => s.outcome)),
    `#trains steps of train ${train.id}: ${show(steps)}, the API's ${show(train.steps.map((s) => s.outcome))}`,
  );
  check(summary.live.length > 0, "the API says nothing is live; the shipped train published lib");
  const live = await page.$$eval("#trains tr.live-row", (trs) => trs.map((tr) => tr.getAttribute("data-repo")));
  check(show(live) === show(summary.live.map((l) => l.repo)), `#trains live rows ${show(live)}, the API's ${show(summary.live.map((l) => l.repo))}`);

  // Panels sit next to the runs, in this order.
  const order = await page.$$eval("main > section", (ss) => ss.map((s) => s.id));
  const at = (id) => order.indexOf(id);
  check(at("runs") >= 0 && at("mirrors") === at("runs") + 1 && at("trains") === at("mirrors") + 1,
    `sections are ${show(order)}: mirrors and trains should follow the runs`);

  // Times: relative text, the exact time in the title.
  const times = await page.$$eval("time[datetime]", (ts) =>
    ts.map((t) => ({ title: t.getAttribute("title"), text: t.textContent, relative: t.getAttribute("data-relative") })),
  );
  check(times.length > 0, "the control room has no <time> elements");
  for (const t of times) {
    check(t.title && t.title.length >= 10, `a <time> has no exact time in its title: ${show(t)}`);
    check(t.relative === "true" && t.text !== t.title, `a <time> was not made relative: ${show(t)}`);
  }
  await noSidewaysScroll(page, "the control room at 1280 px");
  console.log(
    `panels: ${nihRows.length} not in the hub, ${groups.length} workflow groups, ${repoRows.length} repos, ` +
      `mirror rule ${rule.rule} (${show(rule.by_state)}), ${summary.trains.length} trains, ${live.length} live, ${times.length} times`,
  );
}

/** `/repos/{name}` and `/sources/{name}`: the API's items, linked from the
 * control room; the item added after the sync marked not in the hub. */
async function checkScopes(page) {
  for (const [kind, name, shot] of [["repo", "app", "repo"], ["source", "workplans", "source"]]) {
    await load(page, new URL("/", base).href);
    await Promise.all([
      page.waitForURL((url) => url.pathname === `/${kind}s/${encodeKey(name)}`, { waitUntil: "load" }),
      page.locator(`a.${kind}-link[href="/${kind}s/${encodeKey(name)}"]`).first().click(),
    ]);
    const listing = await api(`/api/v1/${kind}s/${encodeKey(name)}`);
    const where = `/${kind}s/${name}`;
    check((await page.getAttribute("body", "data-page")) === kind, `${where}: body[data-page] is not ${kind}`);
    const rows = await page.$$eval("#listing tr.listed-item", (trs) =>
      trs.map((tr) => ({
        key: tr.getAttribute("data-key"),
        inHub: tr.getAttribute("data-in-hub"),
        marked: tr.querySelector(".marker.not-in-hub") !== null,
      })),
    );
    check(
      show(rows.map((r) => r.key)) === show(listing.items.map((i) => i.key)),
      `${where}: rows ${show(rows.map((r) => r.key))}, the API's items ${show(listing.items.map((i) => i.key))}`,
    );
    const added = rows.find((r) => r.key === "CUST-WP-0026-T09");
    check(added && added.inHub === "false" && added.marked, `${where}: the new task is not marked not in the hub: ${show(added)}`);
    const total = await page.getAttribute("#listing-total", "data-count");
    check(total === String(listing.items.length), `${where}: #listing-total ${show(total)}, the API lists ${listing.items.length}`);
    await screenshots(page, shot);
    console.log(`${where}: ${rows.length} items match the API, ${listing.not_in_hub} not in the hub`);
  }
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
  check((await page.locator("#explain pre").count()) === 0, `${link.href}: the explanation is a <pre> dump`);
  const rules = await page.$$eval("#explain article.decision", (as) => as.map((a) => a.getAttribute("data-rule")));
  check(rules.length > 0, `${link.href}: #explain names no rule`);
  const readings = await page.$$eval("#explain tr.reading", (trs) => trs.map((tr) => tr.getAttribute("data-source")));
  check(readings.length > 0, `${link.href}: #explain lists no source's value`);
  const reason = (await page.locator('#explain dd[data-field="reason"]').first().textContent()).trim();
  check(reason.length > 0 && reason !== "—", `${link.href}: #explain gives no decision reason`);

  console.log(
    `item ${key}: ${history.length} history rows and ${sources.length} sources match /api/v1/items/${encodeKey(key)}`,
  );
  await screenshots(page, "item");
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
    await checkScopes(page);
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
