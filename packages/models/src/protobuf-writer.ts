/**
 * A tiny protobuf wire encoder (the counterpart of savedmodel/proto.ts's reader; no generated
 * code), shared by the ONNX writer and the graph trainer's SavedModel writer. Large payloads
 * (raw weights, nested messages) are kept as chunks, not copied byte by byte.
 */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private parts: number[] = [];
  private flush(): void { if (this.parts.length) { this.chunks.push(Uint8Array.from(this.parts)); this.parts = []; } }
  private varintRaw(v: number | bigint): void {
    // int64 fields are two's complement in 10 bytes when negative (Reshape -1, axis -1).
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) { this.parts.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.parts.push(Number(x));
  }
  private key(field: number, wire: number): void { this.varintRaw(field * 8 + wire); }
  int(field: number, v: number): this { this.key(field, 0); this.varintRaw(v); return this; }
  bytes(field: number, b: Uint8Array): this { this.key(field, 2); this.varintRaw(b.length); this.flush(); this.chunks.push(b); return this; }
  string(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }
  message(field: number, fill: (w: ProtoWriter) => void): this { const w = new ProtoWriter(); fill(w); return this.bytes(field, w.finish()); }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  packedInts(field: number, vs: number[]): this { const w = new ProtoWriter(); vs.forEach((v) => w.varintRaw(v)); return this.bytes(field, w.finish()); }
  packedFloats(field: number, vs: number[]): this {
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of this.chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}
