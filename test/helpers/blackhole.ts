// A loopback port that never answers a connect: a listening socket with a full accept queue
// (backlog 0, queue filled, never accepted), so further SYNs are dropped and a connect waits
// until its own timeout. Node's servers accept on their own, so a small Python process holds it.
import { spawn } from "node:child_process";
import { once } from "node:events";
import type { TestContext } from "node:test";

const script = `
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
port = s.getsockname()[1]
fill = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", port))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.2)
print(port, flush=True)
sys.stdin.read()
`;

export async function startBlackhole(t: TestContext): Promise<number> {
  const child = spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "inherit"] });
  t.after(() => child.kill("SIGKILL"));
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  return Number(line.toString().trim());
}
