import { isIP } from "node:net";
import { connect } from "node:tls";

/** What a party dials with under TLS: the files' bytes, as its gRPC channel uses them. */
export interface TlsDial {
  host: string;
  port: number;
  ca: Buffer | null;
  cert: Buffer | null;
  key: Buffer | null;
}

/** A certificate refusal at the TLS handshake, either way: exit code 2, with what to fix. */
export class PartyTlsError extends Error {
  override readonly name = "PartyTlsError";
  readonly code = "TLS_REFUSED";
  readonly exitCode = 2;
  constructor(readonly reason: string, readonly fix: string) {
    super(`TLS handshake with the aggregator failed: ${reason}. ${fix}`);
  }
}

const CLIENT_CERTIFICATE_FIX = "The aggregator refused this party's certificate: aggregator.tls_config.cert must be signed by the CA in the aggregator's tls_config.ca, unexpired, for client authentication, with this party's name as subject CN";

/** The HTTP/2 client preface: sent after the handshake so that a server which refuses the client's certificate says so now. */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * grpc-js reports a failed TLS handshake as UNAVAILABLE, often without the reason ("Failed to
 * connect": under TLS 1.3 the server's verdict on the client's certificate arrives after the
 * client's side of the handshake is done). When a connection fails, the party dials once more
 * with plain `tls.connect` and the same files, to learn whether a certificate was refused and by
 * whom. Undefined when the failure is not about certificates (refused port, timeout, accepted).
 */
export async function diagnoseTls(dial: TlsDial, settleMs = 500, timeoutMs = 5000): Promise<PartyTlsError | undefined> {
  return new Promise((resolve) => {
    const socket = connect({
      host: dial.host, port: dial.port, ALPNProtocols: ["h2"], servername: isIP(dial.host) ? undefined : dial.host,
      ...(dial.ca ? { ca: dial.ca } : {}), ...(dial.cert ? { cert: dial.cert } : {}), ...(dial.key ? { key: dial.key } : {}),
    });
    let settle: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const done = (result: PartyTlsError | undefined) => {
      clearTimeout(timer);
      clearTimeout(settle);
      socket.destroy();
      resolve(result);
    };
    socket.once("error", (error: NodeJS.ErrnoException) => done(certificateRefusal(error, dial.host)));
    let answered = false;
    socket.on("data", () => { answered = true; });
    socket.once("secureConnect", () => {
      socket.resume(); // read, so that an alert the server sends is seen
      socket.write(PREFACE);
      settle = setTimeout(() => done(undefined), settleMs);
      // An HTTP/2 server speaks first (SETTINGS). Node's TLS server refuses a client certificate
      // from an unknown CA under TLS 1.3 by closing without an alert, right after the handshake.
      socket.once("end", () => done(!answered && dial.cert ? new PartyTlsError("the aggregator closed the connection right after the TLS handshake, before any HTTP/2 data", CLIENT_CERTIFICATE_FIX) : undefined));
    });
  });
}

/** The refusal a TLS error stands for, with the fix; undefined for errors that are not about certificates. */
export function certificateRefusal(error: NodeJS.ErrnoException, host: string): PartyTlsError | undefined {
  const code = error.code ?? "";
  const reason = `${error.message.split("\n")[0]!.replace(/^.*SSL routines:[^:]*:/, "").replace(/:\.\.\/deps.*$/, "")} (${code})`;
  if (/CERTIFICATE_REQUIRED/.test(code)) {
    return new PartyTlsError(reason, "The aggregator requires a client certificate (mutual TLS): set aggregator.tls_config.cert and key to this party's certificate and key, signed by the aggregator's CA (cohort certs --party NAME makes one)");
  }
  if (/_ALERT_/.test(code)) {
    return new PartyTlsError(reason, CLIENT_CERTIFICATE_FIX);
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/.test(code)) {
    return new PartyTlsError(reason, `This party did not accept the aggregator's certificate: aggregator.tls_config.ca must be the CA that signed it, and its subject alternative names must include ${host} (aggregator.ip)`);
  }
  return undefined;
}
