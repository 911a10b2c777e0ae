#!/usr/bin/env node
// Compiles every src/*.sol with the pinned npm solc (no compiler downloads) and writes
// deterministic artifacts:  node scripts/compile.js [outDir=build] [--abi-dir <dir>]
// Test-only helpers in test/*.sol are compiled into the same outDir, but their ABIs never go
// to --abi-dir: that directory is the shared contract of the six system contracts.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const EXPECTED_SOLC = "0.8.28";
const ROOT = path.resolve(__dirname, "..");
const SRC_DIR = path.join(ROOT, "src");
const TEST_DIR = path.join(ROOT, "test");

function die(msg) {
  console.error(`compile: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  let outDir = null;
  let abiDir = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--abi-dir") {
      abiDir = argv[++i];
      if (!abiDir) die("--abi-dir needs a directory");
    } else if (a.startsWith("--abi-dir=")) {
      abiDir = a.slice("--abi-dir=".length);
    } else if (a.startsWith("-")) {
      die(`unknown option ${a}`);
    } else if (outDir === null) {
      outDir = a;
    } else {
      die(`unexpected argument ${a}`);
    }
  }
  return { outDir: path.resolve(outDir || path.join(ROOT, "build")), abiDir: abiDir && path.resolve(abiDir) };
}

// Recursively sorted keys so the JSON text never depends on solc's internal ordering.
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    const out = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]);
    return out;
  }
  return value;
}

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");

function main() {
  const { outDir, abiDir } = parseArgs(process.argv.slice(2));

  const version = solc.version();
  if (!version.startsWith(EXPECTED_SOLC + "+")) die(`expected solc ${EXPECTED_SOLC}, got ${version}`);

  const solidityIn = (dir) =>
    fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".sol")).sort() : [];
  const files = solidityIn(SRC_DIR);
  if (files.length === 0) die(`no .sol files in ${SRC_DIR}`);

  // Source unit names are repo-relative so the embedded metadata hash is machine-independent.
  const sources = {};
  for (const f of files) sources[`src/${f}`] = { content: fs.readFileSync(path.join(SRC_DIR, f), "utf8") };
  for (const f of solidityIn(TEST_DIR)) {
    sources[`test/${f}`] = { content: fs.readFileSync(path.join(TEST_DIR, f), "utf8") };
  }

  const settings = {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  };
  const input = { language: "Solidity", sources, settings };

  const findImports = (p) => {
    const full = path.join(ROOT, p);
    if (p.startsWith("src/") && fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
    return { error: `import not found: ${p} (only local src/ imports are allowed)` };
  };

  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const diagnostics = output.errors || [];
  for (const d of diagnostics) console.error(d.formattedMessage || d.message);
  if (diagnostics.some((d) => d.severity === "error")) die("compilation failed");
  if (!output.contracts) die("compiler produced no contracts");

  const artifacts = [];
  const seen = new Map();
  for (const unit of Object.keys(output.contracts).sort()) {
    for (const name of Object.keys(output.contracts[unit]).sort()) {
      const c = output.contracts[unit][name];
      // Interfaces and abstract contracts have no bytecode: nothing to deploy.
      if (!c.evm.bytecode.object) continue;
      if (seen.has(name)) die(`duplicate contract name ${name} in ${seen.get(name)} and ${unit}`);
      seen.set(name, unit);
      artifacts.push({
        contractName: name,
        sourceName: unit,
        abi: sortKeys(c.abi),
        bytecode: "0x" + c.evm.bytecode.object,
        deployedBytecode: "0x" + c.evm.deployedBytecode.object,
        sourceHash: "sha256:" + sha256(sources[unit].content),
      });
    }
  }

  fs.mkdirSync(outDir, { recursive: true });
  if (abiDir) fs.mkdirSync(abiDir, { recursive: true });
  for (const a of artifacts) {
    writeJson(path.join(outDir, `${a.contractName}.json`), {
      contractName: a.contractName,
      abi: a.abi,
      bytecode: a.bytecode,
      deployedBytecode: a.deployedBytecode,
      sourceHash: a.sourceHash,
    });
    if (abiDir && a.sourceName.startsWith("src/")) {
      writeJson(path.join(abiDir, `${a.contractName}.json`), a.abi);
    }
  }
  writeJson(path.join(outDir, "manifest.json"), {
    solcVersion: version,
    settings: { evmVersion: settings.evmVersion, optimizer: settings.optimizer },
    contracts: artifacts.map((a) => ({
      contractName: a.contractName,
      sourceName: a.sourceName,
      sourceHash: a.sourceHash,
      artifact: `${a.contractName}.json`,
    })),
  });

  console.log(`compiled ${artifacts.length} contracts with solc ${version} -> ${outDir}`);
  if (abiDir) console.log(`ABIs -> ${abiDir}`);
}

main();
