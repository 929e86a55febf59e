// A loopback TCP port that never answers a SYN: a listener (python3, since Node always
// accepts) that never accepts, whose accept queue is then filled; the kernel drops further
// SYNs, so a connect hangs until its timeout — like a firewalled or dead host.
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import type { TestContext } from "node:test";

const script = `
import socket, sys, time
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1], 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
time.sleep(3600)
`;

export async function blackhole(t: TestContext, host: string): Promise<{ port: number }> {
  const child = spawn("python3", ["-c", script, host], { stdio: ["ignore", "pipe", "inherit"] });
  t.after(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  const port = Number(line.toString().trim());
  const fillers: net.Socket[] = [];
  t.after(() => {
    for (const f of fillers) f.destroy();
  });
  // Fill the accept queue until a connect no longer completes within 200 ms.
  for (let i = 0; i < 16; i++) {
    const s = net.connect({ host, port });
    s.on("error", () => undefined);
    fillers.push(s);
    const connected = await Promise.race([
      once(s, "connect").then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 200)),
    ]);
    if (!connected) return { port };
  }
  throw new Error("could not fill the accept queue of the blackhole listener");
}

/** The IPv4 loopback form: the port of a blackhole on 127.0.0.1. */
export async function startBlackhole(t: TestContext): Promise<number> {
  return (await blackhole(t, "127.0.0.1")).port;
}
