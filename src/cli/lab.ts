// `egress-router lab up | down | status | demo`: the network-namespace lab (src/lab/).
import { UsageError } from "./command.ts";
import type { Command } from "./command.ts";
import type { Env } from "../config/read-setting.ts";
import { parseCommandArgs } from "./flags.ts";
import type { DemoMode } from "../lab/demo-scenario.ts";
import { DEMO_MODES, demoContext } from "../lab/demo-scenario.ts";
import { scenarioGroups } from "../lab/demo-scenarios.ts";
import { runDemo, summarize } from "../lab/demo.ts";
import type { Lab } from "../lab/lab.ts";
import { createLab, destroyLab, LabError, listLabs, openLab, requireRoot } from "../lab/lab.ts";
import type { EgressLinkType } from "../lab/topology.ts";
import { EGRESS_LINK_TYPES, labNameProblem } from "../lab/topology.ts";
import { describeHaLab, describeHolders, describeLab } from "../lab/describe.ts";
import type { RouterName } from "../lab/ha-lab.ts";
import { ROUTERS, createHaLab, openHaLab } from "../lab/ha-lab.ts";

const DEFAULT_NAME = "demo";

export const labCommand: Command = {
  name: "lab",
  summary:
    "build a cluster-like network of namespaces on this host, and demonstrate every mode in it",
  help: `Usage: egress-router lab <up|down|status|demo> [options]      (as root)

A lab is a set of network namespaces on this host modelling a cluster and the outside
world: a client pod; the router pod (eth0 on the cluster, macvlan0 on a LAN, left down
as the SDN leaves it; ipvlan0 with --interface ipvlan); a gateway; an external server behind a firewall that admits ONLY
the reserved source address (and names every other source it turns away); and a DNS
server (dnsmasq) naming the external services. Documentation addresses only
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32): no packet leaves the lab.

  up       build the lab and start its servers, then print its map. With --ha: a second
           router pod on the same LAN, both running egress-router ha run (keepalived elects
           the holder of the source address; clients use 192.0.2.4, which moves with it)
  down     remove the lab: its processes, namespaces and files (--all: every lab)
  status   list the labs on this host; with --name, that lab's map and firewall counters
           (and, for a lab built with --ha, which router holds the address)
  demo     run every mode's scenarios against a lab and print what the client asked,
           what the external server saw and whether the firewall let it in. Uses the
           lab named by --name if it is up (and leaves it up), else builds one and
           removes it afterwards (--keep leaves it). Exit 1 if anything is not as expected.
           The last scenarios kill the holder of two active/standby routers mid-traffic and
           print the gap; on a lab built with --ha, only those run, with its routers.

Options:
  --name <name>          the lab (default ${DEFAULT_NAME}); namespaces are erlab-<name>-<role>
  --interface <type>     how the router's egress interface reaches the LAN:
                         ${EGRESS_LINK_TYPES.join(" (default), ")}; ipvlan is L2 mode, on the
                         node uplink's own MAC address (also --egress-link <type>)
  --ha                   up: two router pods, active/standby (macvlan or veth; not ipvlan)
  --all                  down: every lab on this host
  --keep                 demo: leave the lab up afterwards
  --only <mode>          demo: only this mode's scenarios (${DEMO_MODES.join(", ")})
  --verbose              print every command run

Examples:
  egress-router lab demo
  egress-router lab up && ip netns exec erlab-demo-client curl -s http://192.0.2.2/
  egress-router lab up --ha && egress-router lab status --name demo
  egress-router lab down --all
`,
  async run(args, env: Env) {
    const { flags, positionals } = parseCommandArgs(
      "lab",
      args,
      [],
      {
        name: { type: "string" },
        "egress-link": { type: "string" },
        interface: { type: "string" },
        all: { type: "boolean" },
        ha: { type: "boolean" },
        keep: { type: "boolean" },
        only: { type: "string" },
        verbose: { type: "boolean" },
      },
      true,
    );
    const [action, ...extra] = positionals;
    if (action === undefined || extra.length > 0) {
      throw new UsageError(
        `egress-router lab: ${action === undefined ? "say what to do" : `unexpected "${extra.join(" ")}"`}: up, down, status or demo; see egress-router lab --help`,
      );
    }
    const name = typeof flags["name"] === "string" ? flags["name"] : DEFAULT_NAME;
    const problem = labNameProblem(name);
    if (problem) throw new UsageError(problem);
    const link = egressLinkFlag(flags);
    const trace =
      flags["verbose"] === true ? (l: string) => process.stderr.write(`${l}\n`) : undefined;
    const common = { env, ...(trace ? { trace } : {}) };
    try {
      switch (action) {
        case "up":
          return await up(name, link, flags["ha"] === true, common);
        case "down":
          return await down(name, flags["all"] === true, env);
        case "status":
          return await status(typeof flags["name"] === "string" ? name : undefined, env);
        case "demo":
          return await demo(name, link, flags, common);
        default:
          throw new UsageError(
            `egress-router lab: Cannot do "${action}": unknown action; use up, down, status or demo`,
          );
      }
    } catch (err) {
      if (err instanceof LabError) {
        process.stderr.write(`${err.message}\n`);
        return 1;
      }
      throw err;
    }
  },
};

/** --interface, or its older name --egress-link (not both, unless they agree). */
function egressLinkFlag(
  flags: Readonly<Record<string, string | boolean | undefined>>,
): EgressLinkType {
  const byType = flags["interface"];
  const byLink = flags["egress-link"];
  if (typeof byType === "string" && typeof byLink === "string" && byType !== byLink) {
    throw new UsageError(
      `egress-router lab: Cannot use --interface "${byType}" with --egress-link "${byLink}": they name the same thing; give one`,
    );
  }
  const flag = typeof byType === "string" ? "--interface" : "--egress-link";
  const link = (byType ?? byLink ?? "macvlan") as EgressLinkType;
  if (!EGRESS_LINK_TYPES.includes(link)) {
    throw new UsageError(
      `egress-router lab: Cannot use ${flag} "${String(link)}": unknown interface type; use ${EGRESS_LINK_TYPES.join(", ")}`,
    );
  }
  return link;
}

type Common = { env: Env; trace?: (l: string) => void };

/**
 * While a lab is being built (or a demo runs on a lab it built), Ctrl-C removes the lab
 * before the process ends, instead of leaving namespaces and servers behind.
 */
function removeOnInterrupt(name: string, env: Env): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\ninterrupted: removing the lab "${name}"\n`);
    destroyLab(name, { env })
      .catch((err: unknown) => process.stderr.write(`${String(err)}\n`))
      .finally(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        process.kill(process.pid, signal); // end as the signal would have
      });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}

async function up(
  name: string,
  link: EgressLinkType,
  ha: boolean,
  common: Common,
): Promise<number> {
  requireRoot("build the lab");
  const start = performance.now();
  const release = removeOnInterrupt(name, common.env);
  if (!ha) {
    const lab = await createLab({ name, egressLink: link, ...common }).finally(release);
    const s = ((performance.now() - start) / 1000).toFixed(1);
    process.stdout.write(`lab "${name}" is up (${s} s)\n\n${describeLab(lab)}`);
    return 0;
  }
  const h = await createHaLab({ name, egressLink: link, ...common })
    .then((h) => {
      // the routers outlive this command; `lab down` ends them with the lab
      for (const r of ROUTERS) h.startRouter(r, {}, { detached: true });
      return h;
    })
    .finally(release);
  const deadline = Date.now() + 60_000;
  let holder: RouterName | undefined;
  while (holder === undefined && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    holder = await h.holder();
  }
  const s = ((performance.now() - start) / 1000).toFixed(1);
  const states = await Promise.all(ROUTERS.map((r) => h.state(r)));
  process.stdout.write(
    `lab "${name}" is up (${s} s), with two router pods\n\n${describeLab(h.lab, { ha: true })}${describeHaLab(h.lab)}\n${describeHolders(states)}`,
  );
  if (holder === undefined) {
    process.stderr.write(
      `lab: no router holds the source address after 60 s; the routers' logs: ${ROUTERS.map((r) => h.logFile(r)).join(", ")}\n`,
    );
    return 1;
  }
  return 0;
}

async function down(name: string, all: boolean, env: Env): Promise<number> {
  requireRoot("remove the lab");
  const names = all ? (await listLabs({ env })).map((l) => l.name) : [name];
  for (const n of names) {
    await destroyLab(n, { env });
    process.stdout.write(`lab "${n}" removed\n`);
  }
  if (all && names.length === 0) process.stdout.write("no lab on this host\n");
  return 0;
}

async function status(name: string | undefined, env: Env): Promise<number> {
  const labs = await listLabs({ env });
  if (name === undefined) {
    if (labs.length === 0) {
      process.stdout.write('no lab on this host; build one with "egress-router lab up"\n');
      return 0;
    }
    for (const l of labs) {
      const state = l.complete
        ? l.secondRouter
          ? "up, two active/standby router pods (--ha)"
          : "up"
        : `half-built (${l.namespaces.join(", ") || "no namespace"}): remove it with "egress-router lab down --name ${l.name}"`;
      process.stdout.write(`${l.name.padEnd(24)} ${state}\n`);
    }
    return 0;
  }
  const found = labs.find((l) => l.name === name);
  if (!found) {
    process.stderr.write(
      `lab: Cannot show the lab "${name}": it does not exist; build it with "egress-router lab up --name ${name}"\n`,
    );
    return 1;
  }
  const lab = openLab(name, { env });
  process.stdout.write(
    `lab "${name}": ${found.complete ? "up" : "half-built"}\n\n${describeLab(lab, { ha: found.secondRouter })}${found.secondRouter ? describeHaLab(lab) : ""}`,
  );
  if (found.complete && found.secondRouter) {
    const h = openHaLab(lab);
    const states = await Promise.all(ROUTERS.map((r) => h.state(r)));
    process.stdout.write(`\n${describeHolders(states)}`);
  }
  if (found.complete) {
    requireRoot("read the lab's firewall");
    const f = await lab.firewall();
    process.stdout.write(
      `\nfirewall since its last reset: ${f.admitted} admitted, ${f.rejected} rejected${f.rejectedSources.length ? ` (from ${f.rejectedSources.join(", ")})` : ""}\n`,
    );
  }
  return 0;
}

async function demo(
  name: string,
  link: EgressLinkType,
  flags: Readonly<Record<string, string | boolean | undefined>>,
  common: Common,
): Promise<number> {
  requireRoot("run the demo");
  const only = flags["only"];
  if (only !== undefined && !DEMO_MODES.includes(only as DemoMode)) {
    throw new UsageError(
      `egress-router lab: Cannot run --only "${String(only)}": unknown mode; use ${DEMO_MODES.join(", ")}`,
    );
  }
  const groups = scenarioGroups.filter((g) => only === undefined || g.mode === only);
  const existing = (await listLabs({ env: common.env })).find((l) => l.name === name);
  const tty = process.stdout.isTTY === true;
  const write = (t: string) => void process.stdout.write(t);
  let lab: Lab;
  let built = false;
  let release = () => {};
  let run = groups;
  if (existing?.complete) {
    lab = openLab(name, common);
    write(`using the lab "${name}" that is up\n`);
    if (existing.secondRouter) {
      // its router pods run the active/standby routers: the other modes' scenarios would
      // fight them for the router pod
      run = groups.filter((g) => g.mode === "ha");
      write(`it has two active/standby router pods (lab up --ha): only their scenarios run\n`);
    }
  } else {
    if (existing) await destroyLab(name, { env: common.env }); // half-built: start over
    release = removeOnInterrupt(name, common.env);
    write(`building the lab "${name}"… `);
    const start = performance.now();
    lab = await createLab({ name, egressLink: link, ...common });
    built = true;
    write(`up in ${((performance.now() - start) / 1000).toFixed(1)} s\n\n${describeLab(lab)}`);
  }
  try {
    const result = await runDemo({ groups: run, context: demoContext(lab), write, tty });
    write(summarize(result, groups, [lab.v4.source, lab.v6.source], tty));
    return result.rows.every((r) => r.ok) && result.leaked.length === 0 ? 0 : 1;
  } finally {
    release();
    if (built && flags["keep"] !== true) {
      await lab.down();
      write(`lab "${name}" removed\n`);
    } else {
      write(`lab "${name}" left up: egress-router lab down --name ${name}\n`);
    }
  }
}
