// The sub-commands, in the order `--help` lists them. Each lives in its own file.
import type { Command } from "./command.ts";
import { checkCommand } from "./check.ts";
import { dnsProxyCommand } from "./dns-proxy.ts";
import { explainCommand } from "./explain.ts";
import { haCommand } from "./ha.ts";
import { labCommand } from "./lab.ts";
import { httpProxyCommand } from "./http-proxy.ts";
import { manifestsCommand } from "./manifests.ts";
import { redirectCommand } from "./redirect.ts";
import { setupCommand } from "./setup.ts";

export const commands: readonly Command[] = [
  checkCommand,
  explainCommand,
  setupCommand,
  redirectCommand,
  dnsProxyCommand,
  httpProxyCommand,
  haCommand,
  manifestsCommand,
  labCommand,
];
