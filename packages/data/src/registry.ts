import { csvHandler } from "./csv-handler.js";
import { type DataContext, type DataHandler, type Dataset } from "./dataset.js";
import { DataError } from "./errors.js";
import { mnistHandler } from "./mnist-handler.js";
import { loadNpz, npzHandler } from "./npz-handler.js";
import { checkSplit } from "./validate.js";

/**
 * Handlers by name. IBM FL configs name a handler class (data.name: MnistKerasDataHandler); those
 * names are accepted as aliases so such configs port unchanged.
 */

/**
 * IBM FL's MNIST handlers read an npz (info.npz_file) and scale pixels by 1/255, adding a channel
 * axis. Without npz_file, they fall back to the embedded digits. Channels stay last even for
 * the PyTorch alias unless info.layout is nchw, which a converted PyTorch model (NCHW in) needs.
 */
const ibmMnistHandler = (name: string): DataHandler => ({
  name,
  load: (info, ctx) => info.npz_file !== undefined
    ? loadNpz(info, ctx, name, { integerXScale: 1 / 255, channelAxisForImages: true })
    : mnistHandler.load(info, ctx),
});

const handlers = new Map<string, DataHandler>();
const aliases = new Map<string, string>();

export function registerDataHandler(handler: DataHandler, ...aliasNames: string[]): void {
  handlers.set(handler.name, handler);
  for (const alias of aliasNames) aliases.set(alias, handler.name);
}

registerDataHandler(npzHandler, "NpzDataHandler");
registerDataHandler(csvHandler, "CsvDataHandler", "CSVDataHandler");
registerDataHandler(mnistHandler);
for (const name of ["MnistKerasDataHandler", "MnistTFDataHandler", "MnistPytorchDataHandler"]) registerDataHandler(ibmMnistHandler(name));

export function knownDataHandlers(): string[] {
  return [...handlers.keys(), ...aliases.keys()].sort();
}

export function dataHandler(name: string): DataHandler {
  const handler = handlers.get(aliases.get(name) ?? name);
  if (!handler) {
    throw new DataError("data.unknown_handler", `unknown data handler '${name}'; known handlers: ${knownDataHandlers().join(", ")}`);
  }
  return handler;
}

/** Loads a party's data as its config's `data` section says, checking the result is consistent. */
export async function loadDataset(spec: { name: string; info: Record<string, unknown> }, ctx: DataContext): Promise<Dataset> {
  const handler = dataHandler(spec.name);
  const dataset = await handler.load(spec.info ?? {}, ctx);
  checkSplit(dataset.train, `data handler ${spec.name} (train)`);
  checkSplit(dataset.test, `data handler ${spec.name} (test)`);
  return dataset;
}
