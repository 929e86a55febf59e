// The status page in a real headless Chromium (Debian's, never a downloaded one): it
// renders what the router does, refreshes live, loads nothing from elsewhere, breaks no
// CSP rule and fits a phone. Screenshots go to test-output/ for a person to look at.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { publishDecision, publishResolve } from "../src/observe/events.ts";
import { startEchoDaemon } from "./helpers/daemon.ts";
import { lineClient } from "./helpers/net.ts";

// The few browser globals the functions run in the page use (functions, not strings: the
// page's CSP forbids eval). This project type-checks without the DOM library.
declare const document: {
  getElementById(id: string): { textContent: string | null } | null;
  querySelectorAll(selector: string): { length: number };
  documentElement: { scrollWidth: number; clientWidth: number };
  body: unknown;
};
declare function getComputedStyle(element: unknown): { fontSize: string };
declare function scrollTo(x: number, y: number): void;

const chromiumPath = "/usr/bin/chromium";
const outDir = fileURLToPath(new URL("../test-output/", import.meta.url));

const rules = [
  "# echo service for the status page test",
  "listen 0",
  "reply v1",
  "deny blocked",
  "name payments.example.test 192.0.2.7 192.0.2.8",
].join("\n");

describe(
  "status page in Chromium",
  { skip: !existsSync(chromiumPath) && "no /usr/bin/chromium" },
  () => {
    it("renders mode, source, rules with hits, denials and names, and refreshes live on a phone", async (t) => {
      const d = await startEchoDaemon(t, rules, { env: { EGRESS_SOURCE: "192.0.2.10/32" } });
      publishDecision({
        mode: "http-proxy",
        client: "10.128.0.15:51234",
        destination: "internal.example.test:443",
        address: "192.0.2.99",
        action: "deny",
        reason: "deny-rule-matched",
        ruleLine: 2,
        audit: false,
      });
      publishResolve({
        name: "payments.example.test",
        ok: true,
        addresses: ["192.0.2.7", "192.0.2.8"],
        ttlSeconds: 30,
        error: undefined,
        stale: false,
      });

      const profile = await mkdtemp(join(tmpdir(), "egress-chromium-"));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath,
        headless: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
      });
      t.after(async () => {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      });
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(m.text());
      });
      page.on("pageerror", (err) => problems.push(err.message));
      page.on("request", (r) => requests.push(r.url()));

      const response = await page.goto(`${d.admin}/`);
      assert.equal(response?.status(), 200);
      assert.equal(await page.title(), "egress-router · echo");
      assert.equal(await page.textContent("#mode"), "echo");
      assert.equal(await page.textContent("#source"), "192.0.2.10/32");
      assert.equal((await page.textContent("#state"))?.trim(), "ready");
      const rows = page.locator("#rules tbody tr");
      const ruleRows: string[][] = [];
      for (let i = 0; i < (await rows.count()); i++) {
        const cells = await rows.nth(i).locator("td").allTextContents();
        ruleRows.push(cells.map((c) => c.trim()));
      }
      assert.deepEqual(ruleRows, [
        ["2", "listen 0", "0", ""],
        ["3", "reply v1", "0", ""],
        ["4", "deny blocked", "0", ""],
        ["5", "name payments.example.test 192.0.2.7 192.0.2.8", "0", "192.0.2.7 192.0.2.8"],
      ]);
      const denial = await page.textContent("#denials tbody tr");
      assert.match(
        denial ?? "",
        /10\.128\.0\.15:51234.*internal\.example\.test:443.*deny-rule-matched/s,
      );
      assert.match(
        (await page.textContent("#names")) ?? "",
        /payments\.example\.test.*192\.0\.2\.7.*192\.0\.2\.8.*ok/s,
      );
      assert.equal(await page.textContent("#active"), "0");

      // live refresh: a connection that stays open and a new denial show up without reload
      const c = await lineClient(d.port);
      t.after(() => c.close());
      assert.equal(await c.ask("hello"), "v1 hello");
      const blocked = await lineClient(d.port);
      assert.equal(await blocked.ask("blocked"), "denied");
      await blocked.closed;
      await page.waitForFunction(
        () =>
          document.getElementById("active")?.textContent === "1" &&
          document.querySelectorAll("#denials tbody tr").length >= 2,
        undefined,
        { timeout: 8000 },
      );
      const hits = await page.locator("#rules tbody tr td:nth-child(3)").allTextContents();
      assert.deepEqual(hits, ["0", "1", "1", "0"]);
      assert.match((await page.textContent("#open")) ?? "", /127\.0\.0\.1:\d+/);
      assert.match((await page.textContent("#live")) ?? "", /^live · updated/);

      // a rejected reload shows as a banner, with the problem, on the next refresh
      await d.configMap.update({ rules: "listen 0\nreply v2\nwhat is this\n" });
      await page.waitForSelector("#reload-rejected", { timeout: 8000 });
      assert.match(
        (await page.textContent("#reload-rejected")) ?? "",
        /previous rules keep serving.*line 3: Cannot parse "what is this"/s,
      );

      // fits a phone: nothing wider than the screen
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      assert.ok(overflow <= 0, `page is ${overflow}px wider than a 390px phone`);
      const bodyFont = await page.evaluate(() => getComputedStyle(document.body).fontSize);
      assert.equal(bodyFont, "16px");

      await mkdir(outDir, { recursive: true });
      await page.evaluate(() => scrollTo(0, 0));
      await page.screenshot({ path: join(outDir, "status-page-phone-top.png") });
      await page.screenshot({ path: join(outDir, "status-page-phone.png"), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.screenshot({ path: join(outDir, "status-page-desktop.png"), fullPage: true });

      const origin = new URL(d.admin).origin;
      const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:"));
      assert.deepEqual(foreign, [], "no external assets");
      assert.deepEqual(problems, [], "no console errors or CSP violations");
    });
  },
);
