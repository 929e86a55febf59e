import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultDnsRecords, dnsmasqArgv, renderHostsFile } from "./dns.ts";
import { labTopology } from "./topology.ts";

describe("lab DNS", () => {
  const t = labTopology("x");
  it("names the external services, round robin for pool", () => {
    const text = renderHostsFile(defaultDnsRecords(t));
    assert.match(text, /^203\.0\.113\.25 api\.example\.com$/m);
    assert.match(text, /^2001:db8:3::25 api\.example\.com$/m);
    assert.equal(text.match(/ pool\.example\.com$/gm)?.length, 4);
  });
  it("runs dnsmasq without any upstream or system file", () => {
    const argv = dnsmasqArgv(t, { hostsFile: "/h", pidFile: "/p" });
    assert.ok(argv.includes("--no-resolv") && argv.includes("--no-hosts"));
    assert.ok(argv.includes("--conf-file=/dev/null"));
    assert.ok(argv.includes("--listen-address=203.0.113.53"));
    assert.ok(!argv.some((a) => a.startsWith("--server")), "no upstream: no query leaves the lab");
  });
});
