// The probes' command lines and how their output is read, with scripted answers (the real
// ndisc6 and arping run in test/ha-ndp.test.ts and test/ha-takeover.test.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CommandError } from "../redirect/command-runner.ts";
import { RecordingRunner } from "../redirect/recording-runner.ts";
import { waitFor } from "../../test/helpers/tcp-peers.ts";
import { ndpProbe, probeGateway, startGatewayCheck } from "./gateway-check.ts";

const ANSWER = (mac: string) =>
  `Soliciting 2001:db8::99 (2001:db8::99) on mv0...\nTarget link-layer address: ${mac}\n from 2001:db8::99\n`;

describe("ndpProbe", () => {
  it("asks once, numerically, and stops at the first answer without `self`", async () => {
    const runner = new RecordingRunner(() => ({ stdout: ANSWER("02:AA:00:00:00:01") }));
    assert.deepEqual(await ndpProbe(runner, "mv0", "2001:db8::1", 1), {
      answered: true,
      peer: "02:aa:00:00:00:01",
    });
    assert.deepEqual(runner.lines(), ["ndisc6 -n -r 1 -w 1000 2001:db8::1 mv0"]);
  });

  it("with `self`, collects every answer and leaves its own out", async () => {
    const both = ANSWER("02:AA:00:00:00:01") + ANSWER("02:BB:00:00:00:02");
    const runner = new RecordingRunner(() => ({ stdout: both }));
    assert.deepEqual(await ndpProbe(runner, "mv0", "2001:db8::99", 1, "02:aa:00:00:00:01"), {
      answered: true,
      peer: "02:bb:00:00:00:02",
    });
    assert.deepEqual(runner.lines(), ["ndisc6 -m -n -r 1 -w 1000 2001:db8::99 mv0"]);
    const onlyUs = new RecordingRunner(() => ({ stdout: ANSWER("02:AA:00:00:00:01") }));
    assert.deepEqual(await ndpProbe(onlyUs, "mv0", "2001:db8::99", 1, "02:aa:00:00:00:01"), {
      answered: false,
      peer: undefined,
    });
  });

  it("no answer (exit 2) is a miss; cannot ask (exit 1) and an unreadable answer are errors", async () => {
    const none = new RecordingRunner(() => ({ code: 2, stdout: "Timed out.\nNo response.\n" }));
    assert.deepEqual(await ndpProbe(none, "mv0", "2001:db8::1", 1), {
      answered: false,
      peer: undefined,
    });
    const down = new RecordingRunner(() => ({
      code: 1,
      stderr: "Sending ICMPv6 packet: Cannot assign requested address",
    }));
    await assert.rejects(ndpProbe(down, "mv0", "2001:db8::1", 1), /ndisc6.*exit code 1/);
    const odd = new RecordingRunner(() => ({ stdout: "something else\n" }));
    await assert.rejects(
      ndpProbe(odd, "mv0", "2001:db8::99", 1, "02:aa:00:00:00:01"),
      /without a link-layer address/,
    );
  });

  it("the gateway check picks NDP for an IPv6 gateway and ARP for IPv4", async () => {
    const runner = new RecordingRunner((argv) =>
      argv[0] === "arping" ? { code: 1 } : { stdout: ANSWER("02:AA:00:00:00:01") },
    );
    assert.equal(await probeGateway(runner, "mv0", "2001:db8::1", 1), true);
    assert.equal(await probeGateway(runner, "mv0", "198.51.100.1", 1), true);
    assert.deepEqual(
      runner.lines().map((l) => l.split(" ")[0]),
      ["ndisc6", "arping"],
    );
  });

  it("the gateway check says NDP in its details for an IPv6 gateway", async (t) => {
    let answering = true;
    const runner = new RecordingRunner(() =>
      answering ? { stdout: ANSWER("02:AA:00:00:00:01") } : { code: 2 },
    );
    const changes: [boolean, string][] = [];
    const check = startGatewayCheck({
      runner,
      egressInterface: "mv0",
      gateway: "2001:db8::1",
      intervalMs: 10,
      onChange: (r, d) => void changes.push([r, d]),
    });
    t.after(() => check.stop());
    answering = false;
    await waitFor(() => changes.length >= 1, 3000, "the gateway counted gone");
    answering = true;
    await waitFor(() => changes.length >= 2, 3000, "the gateway counted back");
    check.stop();
    assert.deepEqual(changes, [
      [false, "no NDP answer (3 times in a row)"],
      [true, "answered NDP"],
    ]);
  });

  it("a missing ndisc6 counts as a miss with the reason, as a missing arping does", async (t) => {
    const runner = {
      run: (argv: readonly string[]) =>
        Promise.reject(new CommandError(argv, undefined, `"ndisc6" not found in PATH`)),
    };
    const changes: [boolean, string][] = [];
    const check = startGatewayCheck({
      runner,
      egressInterface: "mv0",
      gateway: "2001:db8::1",
      intervalMs: 10,
      onChange: (r, d) => void changes.push([r, d]),
    });
    t.after(() => check.stop());
    await waitFor(() => changes.length >= 1, 3000, "the miss reported");
    check.stop();
    assert.equal(changes[0]?.[0], false);
    assert.match(changes[0]?.[1] ?? "", /"ndisc6" not found in PATH.*\(3 times in a row\)/);
  });
});
