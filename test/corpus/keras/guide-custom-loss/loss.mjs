// The custom loss the model was compiled with (mean squared error), as a JS module for custom_objects.
export function test_loss(yTrue, yPred) {
  return yTrue.sub(yPred).square().mean();
}
