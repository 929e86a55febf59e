// bin/egress-router: sub-commands, or OpenShift mode when none is given (spec/cli.md §2).
// The only module that calls process.exit.
import { ConfigError } from "../config/config-error.ts";
import type { Env } from "../config/read-setting.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./command.ts";
import { commands } from "./commands.ts";
import { runOpenShiftMode } from "./openshift-mode.ts";
import { printProblems } from "./print-problems.ts";

const version = "0.1.0";

export function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `egress-router ${version}: a fixed, known source IP for outgoing traffic

Usage:
  egress-router <command> [options]      run a command (egress-router <command> --help)
  egress-router                          OpenShift mode: behave like the egress router image
                                         selected by the EGRESS_* variables (see below)

Commands:
${lines.join("\n")}

OpenShift mode, with no command:
  EGRESS_ROUTER_MODE set             the router image (init, legacy, http-proxy, dns-proxy, unit-test)
  EGRESS_HTTP_PROXY_DESTINATION set  the HTTP proxy on port 8080
  EGRESS_DNS_PROXY_DESTINATION set   the DNS (TCP) proxy
  EGRESS_SOURCE set                  legacy redirect mode
`;
}

export async function main(argv: readonly string[], env: Env): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) return runOpenShiftMode(env);
  if (first === "--help" || first === "-h" || first === "help") {
    const topic = first === "help" ? rest[0] : undefined;
    const cmd = topic === undefined ? undefined : commands.find((c) => c.name === topic);
    process.stdout.write(cmd ? cmd.help : usage());
    return 0;
  }
  if (first === "--version" || first === "-V") {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const cmd: Command | undefined = commands.find((c) => c.name === first);
  if (!cmd) {
    process.stderr.write(`egress-router: unknown command "${first}"; run egress-router --help\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(cmd.help);
    return 0;
  }
  return cmd.run(rest, env);
}

function exitWith(code: number): void {
  // Let stdout/stderr drain before exiting (pipes are asynchronous).
  process.exitCode = code;
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0)
    process.exit(code);
  process.stdout.once("drain", () => process.exit(code));
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    // Long-running commands resolve only when done; one-shot ones return a code at once.
    exitWith(code);
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      printProblems(err.problems);
      exitWith(1);
    } else if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      exitWith(err.exitCode);
    } else {
      const msg = err instanceof Error ? err.message : String(err);
      process.stderr.write(`${msg}\n`);
      if (process.env["EGRESS_ROUTER_DEBUG"] && err instanceof Error && err.stack) {
        process.stderr.write(`${err.stack}\n`);
      }
      exitWith(1);
    }
  },
);
