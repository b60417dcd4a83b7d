// Where the Rust side writes what the providers sent and what their fakes answered
// (SPEKTATE_SPECS_OUT, set by run.sh; target/specs by default), and how the checks read it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const root = resolve(here, '..', '..');
export const out = process.env.SPEKTATE_SPECS_OUT || join(root, 'target', 'specs');

/** The JSON file `name` under the output folder; fails with what to run when it is missing. */
export function readJson(name) {
  const file = join(out, name);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run bash tests/specs/run.sh, which writes it`);
  }
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** The JSON lines file `name` under the output folder, one object a line. */
export function readJsonLines(name) {
  const file = join(out, name);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run bash tests/specs/run.sh, which writes it`);
  }
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l);
      } catch (e) {
        throw new Error(`${file}:${i + 1}: not JSON: ${e.message}`);
      }
    });
}
