import { type Manifest, bytesPerElement, tensorOffsets, viewAs } from "@cohort/tensors";

/** The fused global model has a NaN or an infinity: it must not become a checkpoint. */
export class NonFiniteModel extends Error {}

/**
 * Passes a fused model's slices through, checking the floating-point ones are finite: a
 * strategy's arithmetic (a server optimizer's step, say) must not checkpoint a model that the
 * next round's parties would train into NaN. Slices arrive in manifest order, each within one tensor.
 */
export async function* finiteSlices(manifest: Manifest, slices: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const offsets = tensorOffsets(manifest);
  let at = 0;
  let tensor = 0;
  for await (const slice of slices) {
    while (offsets[tensor + 1] <= at && tensor < manifest.tensors.length - 1) tensor++;
    const { dtype, name } = manifest.tensors[tensor];
    if ((dtype === "float32" || dtype === "float64") && slice.byteLength % bytesPerElement(dtype) === 0) {
      const values = viewAs(dtype, slice) as Float32Array | Float64Array;
      for (let j = 0; j < values.length; j++) {
        if (!Number.isFinite(values[j])) throw new NonFiniteModel(`the fused model's tensor ${name} holds ${values[j]}`);
      }
    }
    at += slice.byteLength;
    yield slice;
  }
}
