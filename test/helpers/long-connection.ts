// A client that keeps one TCP connection open, run inside the client namespace: prints the
// external server's greeting line, then sends each stdin line and prints what comes back.
// Lets a test prove that a connection opened before a rule change keeps working after it.
//   long-connection.ts <address> <port>
import net from "node:net";
import readline from "node:readline";

const [address = "", port = "0"] = process.argv.slice(2);
const socket = net.connect({ host: address, port: Number(port) });
socket.setEncoding("utf8");
let buffered = "";
socket.on("data", (chunk: string) => {
  buffered += chunk;
  let nl: number;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    process.stdout.write(`${buffered.slice(0, nl)}\n`);
    buffered = buffered.slice(nl + 1);
  }
});
socket.on("error", (err: NodeJS.ErrnoException) => {
  process.stdout.write(`error ${err.code ?? err.message}\n`);
  process.exitCode = 1;
});
socket.on("close", () => {
  process.stdout.write("closed\n");
  process.exit();
});
readline.createInterface({ input: process.stdin }).on("line", (line) => socket.write(`${line}\n`));
process.stdin.on("end", () => socket.end());
