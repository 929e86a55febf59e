// Where the admin server listens, as the daemon will read it: the data listeners of a mode
// must not be given its port.
import { isIP } from "node:net";
import { settings } from "./catalogue.ts";
import type { ConfigProblem } from "./config-error.ts";
import { readSetting, type Env, type Flags } from "./read-setting.ts";

export interface AdminListener {
  readonly address: string;
  readonly port: number;
}

/** The admin server's address and port as the daemon will read them (undefined when off). */
export function readAdminListener(env: Env, flags: Flags): AdminListener | undefined {
  const port = readSetting(settings.adminPort, env, flags).setting.value ?? "";
  const address = readSetting(settings.adminAddress, env, flags).setting.value ?? "::";
  // A bad value is the daemon's to report; 0 turns the admin server off.
  if (!/^\d{1,5}$/.test(port) || Number(port) === 0 || isIP(address) === 0) return undefined;
  return { address, port: Number(port) };
}

const wildcard = (a: string): boolean => a === "::" || a === "0.0.0.0";

/** Whether two listen addresses would take the same port from each other. */
export function overlaps(a: string, b: string): boolean {
  return a === b || wildcard(a) || wildcard(b);
}

/**
 * The HTTP proxy's port where the admin server listens: refused at start with the generic
 * "port in use"; said here with both settings, for the proxy and for `check`.
 */
export function httpProxyAdminClash(env: Env, flags: Flags): ConfigProblem[] {
  const admin = readAdminListener(env, flags);
  const port = (readSetting(settings.httpProxyPort, env, flags).setting.value ?? "").trim();
  const address = (readSetting(settings.httpProxyAddress, env, flags).setting.value ?? "").trim();
  if (admin === undefined || Number(port) !== admin.port || !overlaps(address, admin.address)) {
    return [];
  }
  const name = settings.httpProxyPort.env;
  return [
    {
      code: "setting-invalid",
      setting: name,
      message: `${name}: Cannot listen on port ${port}: the admin server (metrics, health) listens there (${settings.adminPort.env}=${admin.port}); set ${name} or ${settings.adminPort.env} to another port`,
    },
  ];
}
