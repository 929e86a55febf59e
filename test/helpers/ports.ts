// Free ports for components that must be told a port up front (rules name their listening
// ports; dnsmasq takes --port). The kernel picks one; there is a small window before the
// component binds it, which is fine on loopback in tests.
import dgram from "node:dgram";
import { once } from "node:events";
import net from "node:net";

/**
 * A TCP port free on `host`. By default on the unspecified address ("::", both families):
 * free on every address, as the DNS proxy's listeners ([::]) need. A port only free on
 * 127.0.0.1 may be bound on another loopback address by a test running alongside (a
 * backend on 127.0.0.3), and a listener on [::] then fails with EADDRINUSE.
 */
export async function freeTcpPort(host = "::"): Promise<number> {
  const s = net.createServer();
  s.listen(0, host);
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, "close");
  return port;
}

/** A port free for both UDP and TCP (DNS servers bind both). */
export async function freeUdpPort(host = "127.0.0.1"): Promise<number> {
  for (;;) {
    const s = dgram.createSocket("udp4");
    s.bind(0, host);
    await once(s, "listening");
    const port = s.address().port;
    const tcp = net.createServer();
    const tcpFree = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    s.close();
    if (tcpFree) {
      tcp.close();
      await once(tcp, "close");
      return port;
    }
  }
}
