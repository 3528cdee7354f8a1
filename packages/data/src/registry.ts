import { csvHandler } from "./csv-handler.js";
import { type DataContext, type DataHandler, type Dataset } from "./dataset.js";
import { DataError } from "./errors.js";
import { mnistHandler } from "./mnist-handler.js";
import { loadNpz, npzHandler } from "./npz-handler.js";
import { checkSplit } from "./validate.js";
import { loadDataModule } from "./module-handler.js";

/**
 * Handlers by name. IBM FL configs name a handler class (data.name: MnistKerasDataHandler); those
 * names are accepted as aliases so such configs port unchanged.
 */

/**
 * IBM FL's MNIST handlers read an npz (info.npz_file) and scale pixels by 1/255, adding a channel
 * axis. Without npz_file, they fall back to the embedded digits. The channel axis goes where
 * IBM's handler puts it: last for Keras and TF ([n, 28, 28, 1]), first for MnistPytorchDataHandler
 * ([n, 1, 28, 28], what a PyTorch model takes); info.layout overrides it.
 */
const ibmMnistHandler = (name: string, layout: "nhwc" | "nchw"): DataHandler => ({
  name,
  load: (info, ctx) => {
    const withLayout = info.layout === undefined && info.shape !== "flat" ? { ...info, layout } : info;
    return info.npz_file !== undefined
      ? loadNpz(withLayout, ctx, name, { integerXScale: 1 / 255, channelAxisForImages: true })
      : mnistHandler.load(withLayout, ctx);
  },
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
registerDataHandler(ibmMnistHandler("MnistKerasDataHandler", "nhwc"));
registerDataHandler(ibmMnistHandler("MnistTFDataHandler", "nhwc"));
registerDataHandler(ibmMnistHandler("MnistPytorchDataHandler", "nchw"));

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

/**
 * Loads a party's data as its config's `data` section says, checking the result is consistent.
 * With `module` (data.path: a .mjs/.js file), the user's JS data handler module provides them.
 */
export async function loadDataset(spec: { name: string; info: Record<string, unknown>; module?: string | undefined }, ctx: DataContext): Promise<Dataset> {
  const dataset = spec.module !== undefined
    ? await loadDataModule(spec.module, spec.name, spec.info ?? {}, ctx.baseDir)
    : await dataHandler(spec.name).load(spec.info ?? {}, ctx);
  checkSplit(dataset.train, `data handler ${spec.name} (train)`);
  checkSplit(dataset.test, `data handler ${spec.name} (test)`);
  return dataset;
}
