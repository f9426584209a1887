import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPOSITORY_ROOT, readRustVariables } from '../scripts/rust-variables';

// deploy/sar/template.yaml passes each variable as `NAME: !Ref Parameter`; no YAML parser
// needed for that shape (and js-yaml would refuse the `!Ref` tags anyway).
const SAR_TEMPLATE = path.join(REPOSITORY_ROOT, 'deploy', 'sar', 'template.yaml');
const template = fs.readFileSync(SAR_TEMPLATE, 'utf8');

/** The top-level section `name:` of the template, up to the next top-level key. */
function section(name: string): string {
  const match = new RegExp(`^${name}:\\n([\\s\\S]*?)(?=^\\S)`, 'm').exec(template);
  if (!match) throw new Error(`deploy/sar/template.yaml has no ${name} section`);
  return match[1];
}

const parameters = new Set([...section('Parameters').matchAll(/^ {2}(\w+):$/gm)].map((m) => m[1]));
const variables = section('Resources').match(/^ {8}Variables:\n((?: {10}.*\n)+)/m);
const passed = new Map(
  [...(variables?.[1] ?? '').matchAll(/^ {10}([A-Z][A-Z0-9_]*): !Ref (\w+)$/gm)].map((m) => [m[1], m[2]]),
);

describe('the SAR template (deploy/sar/template.yaml)', () => {
  test('passes every variable of the authorizer from a parameter of its own', () => {
    const names = readRustVariables().map((v) => v.name);
    expect(names.filter((name) => !passed.has(name))).toEqual([]);
    expect([...passed.keys()].filter((name) => !names.includes(name))).toEqual([]);
    const used = [...passed.values()];
    expect(used.filter((p) => !parameters.has(p))).toEqual([]);
    expect(new Set(used).size).toBe(used.length);
  });

  test("each variable's parameter names the variable and defaults to empty (the authorizer's default)", () => {
    for (const [variable, parameter] of passed) {
      const block = new RegExp(`^ {2}${parameter}:\\n((?: {4}.*\\n)+)`, 'm').exec(section('Parameters'))?.[1] ?? '';
      expect({ parameter, names: block.includes(variable) }).toEqual({ parameter, names: true });
      expect({ parameter, default: /^ {4}Default: ""$/m.test(block) }).toEqual({ parameter, default: true });
    }
  });

  test('has the Serverless Application Repository metadata sam publish needs', () => {
    const metadata = section('Metadata');
    for (const key of ['Name', 'Description', 'Author', 'SpdxLicenseId', 'LicenseUrl', 'ReadmeUrl', 'Labels', 'HomePageUrl', 'SemanticVersion', 'SourceCodeUrl']) {
      expect(metadata).toMatch(new RegExp(`^ {4}${key}: \\S`, 'm'));
    }
    // The files sam package uploads, and a version that follows the crate's.
    const sar = path.dirname(SAR_TEMPLATE);
    expect(fs.existsSync(path.join(sar, /^ {4}LicenseUrl: (\S+)$/m.exec(metadata)![1]))).toBe(true);
    expect(fs.existsSync(path.join(sar, /^ {4}ReadmeUrl: (\S+)$/m.exec(metadata)![1]))).toBe(true);
    const crateVersion = /^version = "([^"]+)"$/m.exec(fs.readFileSync(path.join(REPOSITORY_ROOT, 'Cargo.toml'), 'utf8'))![1];
    expect(/^ {4}SemanticVersion: (\S+)$/m.exec(metadata)![1]).toBe(crateVersion);
    // SAR's own constraints on Author and Labels.
    expect(/^ {4}Author: (\S+)$/m.exec(metadata)![1]).toMatch(/^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$/);
    const labels = /^ {4}Labels: \[(.*)\]$/m.exec(metadata)![1].split(',').map((l) => l.trim());
    expect(labels.length).toBeLessThanOrEqual(10);
    for (const label of labels) expect(label).toMatch(/^[a-zA-Z0-9+\-_:/@]{1,127}$/);
  });
});
