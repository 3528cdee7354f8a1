// Raw TCP peer for the transfer baseline. `sink N`: reads N bytes per connection, then closes.
// `source N`: writes N bytes to each connection, then ends. Prints its port on stdout.
import net from "node:net";
import { pumpBytes } from "./pump.mjs";

const [mode, bytesArg] = process.argv.slice(2);
const bytes = Number(bytesArg);
const chunk = Buffer.alloc(1024 * 1024, 7);
const server = net.createServer((socket) => {
  if (mode === "sink") {
    let received = 0;
    socket.on("data", (d) => { received += d.length; if (received >= bytes) socket.end(); });
  } else {
    pumpBytes(socket, chunk, bytes, () => socket.end());
  }
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
