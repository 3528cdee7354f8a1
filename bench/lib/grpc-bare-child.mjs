// Bare grpc-js peer for the transfer ceiling: the same library, loopback and windows as a
// Cohort upload or download, with none of Cohort's work (no protobuf, checksum, finite check,
// staging or fold). `Sink` counts the bytes of a client stream; `Source` streams N bytes in
// chunks. Prints its port on stdout.
import * as grpc from "@grpc/grpc-js";
import { UploadWindows } from "@cohort/aggregator";
import { BARE_SERVICE } from "./grpc-bare-service.mjs";
import { pumpBytes } from "./pump.mjs";

const [chunkArg] = process.argv.slice(2);
const chunk = Buffer.alloc(Number(chunkArg), 7);
const windows = new UploadWindows();
const server = new grpc.Server();
server.addService(BARE_SERVICE, {
  Sink: (call, callback) => {
    const window = windows.open(call); // the wide receive window a Cohort upload gets
    let received = 0;
    call.on("data", (d) => { received += d.length; });
    call.on("end", () => { window.release(); callback(null, Buffer.from(String(received))); });
  },
  Source: (call) => pumpBytes(call, chunk, Number(call.request.toString()), () => call.end()),
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${port}\n`);
});
