/**
 * Reads the authorizer's environment variables from its Rust source: the string literals that
 * open each tuple of the `VARIABLES` tables (`authorizer --help` prints the same tables).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (deploy/cdk/scripts/../../..). */
export const REPOSITORY_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The Rust files that hold a `VARIABLES` table. */
export const VARIABLE_TABLE_FILES = ['src/config/variables.rs', 'src/metrics/emf/mod.rs'];

/** One row of a Rust `VARIABLES` table. */
export interface RustVariable {
  readonly name: string;
  readonly defaultValue: string;
  readonly meaning: string;
  readonly file: string;
}

/** Every row of every `VARIABLES` table, in source order. */
export function readRustVariables(root = REPOSITORY_ROOT): RustVariable[] {
  return VARIABLE_TABLE_FILES.flatMap((file) =>
    parseVariablesTable(fs.readFileSync(path.join(root, file), 'utf8'), file),
  );
}

/**
 * The rows of the `const VARIABLES` array in `source`: each tuple's string literals, read with
 * a small tokenizer (string literals may hold parentheses, brackets and escaped quotes).
 */
export function parseVariablesTable(source: string, file: string): RustVariable[] {
  const start = source.search(/\bconst VARIABLES\b/);
  if (start < 0) {
    throw new Error(`${file}: no \`const VARIABLES\` table`);
  }
  // Past the type annotation (which has brackets of its own) to the `= [` or `= &[` of the value.
  const value = /=\s*&?\[/.exec(source.slice(start));
  if (!value) {
    throw new Error(`${file}: \`const VARIABLES\` is not followed by an array`);
  }
  let i = start + value.index + value[0].length;
  const rows: RustVariable[] = [];
  let depth = 0;
  let tuple: string[] = [];
  while (i < source.length) {
    const c = source[i];
    if (c === '"') {
      let value = '';
      i += 1;
      while (source[i] !== '"') {
        if (i >= source.length) throw new Error(`${file}: unterminated string in VARIABLES`);
        if (source[i] === '\\') {
          value += source[i + 1];
          i += 2;
        } else {
          value += source[i];
          i += 1;
        }
      }
      if (depth === 1) tuple.push(value);
    } else if (c === '/' && source[i + 1] === '/') {
      i = source.indexOf('\n', i);
      if (i < 0) break;
    } else if (c === '(') {
      depth += 1;
      if (depth === 1) tuple = [];
    } else if (c === ')') {
      if (depth === 1) {
        if (tuple.length !== 3) throw new Error(`${file}: a VARIABLES row has ${tuple.length} strings, not 3`);
        rows.push({ name: tuple[0], defaultValue: tuple[1], meaning: tuple[2], file });
      }
      depth -= 1;
    } else if (c === ']' && depth === 0) {
      return rows;
    }
    i += 1;
  }
  throw new Error(`${file}: the VARIABLES array is not closed`);
}
