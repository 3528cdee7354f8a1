import { describe, expect, it } from "vitest";
import { certificateRefusal } from "./tls-diagnosis.js";

const tlsError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe("certificateRefusal", () => {
  it("tells who refused which certificate, and what to fix", () => {
    expect(certificateRefusal(tlsError("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "80BC:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 116"), "agg")?.message)
      .toBe("TLS handshake with the aggregator failed: tlsv13 alert certificate required (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED). The aggregator requires a client certificate (mutual TLS): set aggregator.tls_config.cert and key to this party's certificate and key, signed by the aggregator's CA (cohort certs --party NAME makes one)");
    expect(certificateRefusal(tlsError("ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "tlsv1 alert unknown ca"), "agg")?.fix).toMatch(/refused this party's certificate/);
    expect(certificateRefusal(tlsError("SELF_SIGNED_CERT_IN_CHAIN", "self-signed certificate in certificate chain"), "agg.example.org")?.fix).toMatch(/must include agg\.example\.org/);
    expect(certificateRefusal(tlsError("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames"), "10.0.0.5")?.fix).toMatch(/aggregator\.tls_config\.ca/);
  });

  it("is undefined for failures that are not about certificates (a restart of the aggregator, a closed port)", () => {
    expect(certificateRefusal(tlsError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:1"), "agg")).toBeUndefined();
    expect(certificateRefusal(tlsError("ECONNRESET", "socket hang up"), "agg")).toBeUndefined();
  });
});
