// Run a `mvvm wasm` module under Node's WASI:
//     node run.mjs [--dir DIR]... [--argv0 NAME] PROG.wasm [ARGS]
//
// Node 22 or later (the module has three memories; Node 20's V8 takes one). Node's WASI
// functions are wrapped in plain JavaScript ones: V8 cannot yet call its "fast API"
// functions from a module with more than one memory (crbug.com/v8/14260). A trap (a
// guest access outside its memory) ends the program as SIGSEGV would: status 139.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import process from "node:process";

const args = process.argv.slice(2);
const preopens = {};
let argv0 = null;
while (args[0] === "--dir" || args[0] === "--argv0") {
  if (args[0] === "--dir") preopens[args[1]] = args[1];
  else argv0 = args[1];
  args.splice(0, 2);
}
if (args.length === 0) {
  console.error("usage: node run.mjs [--dir DIR]... [--argv0 NAME] PROG.wasm [ARGS]");
  process.exit(2);
}
const wasi = new WASI({ version: "preview1", args: [argv0 ?? args[0], ...args.slice(1)],
                        env: process.env, preopens, returnOnExit: true });
const calls = {};
for (const [name, call] of Object.entries(wasi.getImportObject().wasi_snapshot_preview1)) {
  calls[name] = (...values) => call(...values);
}
const module = await WebAssembly.compile(await readFile(args[0]));
const instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: calls });
try {
  process.exitCode = wasi.start(instance);
} catch (error) {
  if (!(error instanceof WebAssembly.RuntimeError)) throw error;
  process.stderr.write(`mvvm: guest killed by SIGSEGV: ${error.message}\n`);
  process.exitCode = 139;
}
