import type { Dataset } from "@cohort/data";
import { type LayersModel, type ModelSpecSection, loadModelFromSpec } from "@cohort/models";

/**
 * The party's model, built for its data: a model file that fixes no input shape (a PyTorch
 * nn.Sequential) takes the shape of the data's examples, unless its spec gives `input_shape`.
 * The data are not read by the loader, only their shape is passed on; the learner then checks
 * the data against the model as for every other format. `dataName` names the data in errors
 * (`party0.yml: data mnist`).
 */
export function loadModelForData(section: ModelSpecSection, dataset: Dataset, dataName: string): Promise<LayersModel> {
  return loadModelFromSpec(section, { inputShape: { shape: dataset.train.xShape.slice(1), from: `${dataName} (x per example)` } });
}
