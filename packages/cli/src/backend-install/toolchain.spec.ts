import { describe, expect, it } from "vitest";
import { checkToolchain } from "./toolchain.js";

describe("checkToolchain", () => {
  it("lists every missing tool with how to get it", () => {
    const bare = { PATH: "/nonexistent", COHORT_NODEDIR: "/nonexistent", COHORT_NODE_GYP: "/nonexistent/node-gyp.js" };
    const error = (() => {
      try {
        checkToolchain(bare);
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected checkToolchain to throw");
    })();
    expect(error.message).toMatch(/^cannot build tfjs-node's binding; missing: /);
    for (const piece of [/a C\+\+ compiler \(set CXX/, /make \(apt-get install make\)/, /Python 3 for node-gyp/, /Node v\d+\.\d+\.\d+'s headers \(node_api\.h\)/, /node-gyp \(npm ships one/]) {
      expect(error.message).toMatch(piece);
    }
  });

  const cxxPresent = checkPresent();
  it.skipIf(!cxxPresent)(`finds this machine's compiler, make, Python, Node headers and npm's node-gyp${cxxPresent ? "" : " (skipped: this machine lacks one of them)"}`, () => {
    const toolchain = checkToolchain();
    expect(toolchain.cxx).toMatch(/(c|g|clang)\+\+$/);
    expect(toolchain.nodeGyp).toMatch(/node-gyp/);
  });
});

function checkPresent(): boolean {
  try {
    checkToolchain();
    return true;
  } catch {
    return false;
  }
}
