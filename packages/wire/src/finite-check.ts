import { type DType, type Manifest, tensorOffsets } from "@cohort/tensors";

const FLOAT_TYPES: ReadonlySet<DType> = new Set(["float32", "float64", "float16"]);

/**
 * Scans a packed byte stream chunk by chunk and reports the first tensor holding a NaN or an
 * infinity. Chunks may split elements; the few bytes of a split element are carried over.
 */
export class FiniteCheck {
  private readonly offsets: number[];
  private position = 0;
  private carry = new Uint8Array(8);
  private carried = 0;
  private failure: string | undefined;

  constructor(private readonly manifest: Manifest) {
    this.offsets = tensorOffsets(manifest);
  }

  /** Name of the first tensor found with a non-finite value, if any. */
  get firstNonFinite(): string | undefined {
    return this.failure;
  }

  add(data: Uint8Array): void {
    let cursor = 0;
    while (cursor < data.byteLength && this.failure === undefined) {
      const index = this.tensorAt(this.position);
      if (index < 0) return;
      const spec = this.manifest.tensors[index];
      const end = this.offsets[index + 1];
      const take = Math.min(end - this.position, data.byteLength - cursor);
      if (FLOAT_TYPES.has(spec.dtype)) this.scan(spec.dtype, data.subarray(cursor, cursor + take), spec.name);
      cursor += take;
      this.position += take;
      if (this.position === end) this.carried = 0;
    }
  }

  private tensorAt(position: number): number {
    // Tensors are visited in order, so a linear walk from the last hit is amortised O(1).
    for (let i = 0; i < this.manifest.tensors.length; i++) {
      if (position >= this.offsets[i] && position < this.offsets[i + 1]) return i;
    }
    return -1;
  }

  private scan(dtype: DType, bytes: Uint8Array, name: string): void {
    const size = dtype === "float64" ? 8 : dtype === "float32" ? 4 : 2;
    let start = 0;
    if (this.carried > 0) {
      const need = Math.min(size - this.carried, bytes.byteLength);
      this.carry.set(bytes.subarray(0, need), this.carried);
      this.carried += need;
      start = need;
      if (this.carried < size) return;
      if (!finiteElement(dtype, this.carry, 0)) this.failure = name;
      this.carried = 0;
    }
    const whole = Math.floor((bytes.byteLength - start) / size) * size;
    if (!allFinite(dtype, bytes.subarray(start, start + whole))) {
      this.failure = name;
      return;
    }
    const rest = bytes.byteLength - start - whole;
    if (rest > 0) {
      this.carry.set(bytes.subarray(start + whole), 0);
      this.carried = rest;
    }
  }
}

/** Typed-array scan where aligned (the common case), DataView otherwise. */
function allFinite(dtype: DType, bytes: Uint8Array): boolean {
  const size = dtype === "float64" ? 8 : dtype === "float32" ? 4 : 2;
  if (dtype !== "float16" && bytes.byteOffset % size === 0) {
    const values = dtype === "float32"
      ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      : new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
    // x - x is NaN exactly for NaN and infinities: one comparison per element.
    for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return false;
    return true;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += size) if (!finiteAt(dtype, view, i)) return false;
  return true;
}

function finiteElement(dtype: DType, bytes: Uint8Array, at: number): boolean {
  return finiteAt(dtype, new DataView(bytes.buffer, bytes.byteOffset), at);
}

function finiteAt(dtype: DType, view: DataView, at: number): boolean {
  if (dtype === "float32") return Number.isFinite(view.getFloat32(at, true));
  if (dtype === "float64") return Number.isFinite(view.getFloat64(at, true));
  // float16: exponent bits all ones means infinity or NaN.
  return (view.getUint16(at, true) & 0x7c00) !== 0x7c00;
}
