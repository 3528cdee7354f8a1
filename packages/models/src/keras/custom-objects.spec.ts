import { describe, expect, it } from "vitest";
import { loadCustomObjects } from "./custom-objects.js";

describe("loadCustomObjects", () => {
  it("refuses IBM FL's Python custom_objects path with how to write the JS module, before importing anything", async () => {
    const entries = [{ key: "MyLoss", value: "my_loss", path: "custom_losses.py" }];
    await expect(loadCustomObjects(entries, "/nowhere", "spec.yml")).rejects.toThrow(
      /spec\.yml: custom_objects\[0\].*path "custom_losses\.py" is a Python module: Cohort runs no Python\. Write MyLoss as a JS module \(e\.g\. custom_losses\.mjs\) exporting "my_loss"/,
    );
  });
});
