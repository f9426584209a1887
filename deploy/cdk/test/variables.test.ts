import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { AUTHORIZER_VARIABLES, AuthorizerSettings, environmentFor } from '../lib';
import { propertyTable, readmeTable } from '../scripts/readme-table';
import { REPOSITORY_ROOT, parseVariablesTable, readRustVariables } from '../scripts/rust-variables';

const rustNames = readRustVariables().map((v) => v.name);
const bindings = Object.entries(AUTHORIZER_VARIABLES);

describe('construct properties and the authorizer variables cannot drift', () => {
  test('the Rust VARIABLES tables are read (both files, every row a variable name)', () => {
    expect(rustNames).toContain('TOKEN_ISSUER');
    expect(rustNames).toContain('METRICS_NAMESPACE');
    expect(rustNames.length).toBeGreaterThan(20);
    for (const name of rustNames) expect(name).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  test('every variable of the authorizer has a construct property', () => {
    const covered = new Set(bindings.map(([, b]) => b.variable));
    expect(rustNames.filter((name) => !covered.has(name))).toEqual([]);
  });

  test('every construct property maps to a variable the authorizer reads, and no two to the same', () => {
    const known = new Set(rustNames);
    expect(bindings.filter(([, b]) => !known.has(b.variable)).map(([p, b]) => `${p} -> ${b.variable}`)).toEqual([]);
    const variables = bindings.map(([, b]) => b.variable);
    expect(new Set(variables).size).toBe(variables.length);
  });

  test('each property reaches its variable in the environment', () => {
    // One value of the right type per property: `satisfies` makes the compiler insist on all of them.
    const everything = {
      configFile: '/opt/issuers.toml',
      tokenIssuer: 'https://tenant.example.com/',
      jwksUri: 'https://tenant.example.com/jwks.json',
      audiences: ['a', 'b'],
      issuerName: 'users',
      tokenUse: 'access',
      requiredClaims: ['email'],
      allowedAlgorithms: ['RS256'],
      clockSkewLeeway: Duration.seconds(5),
      maxTokenBytes: 16384,
      jwksRefreshInterval: Duration.minutes(10),
      jwksMinRefreshInterval: Duration.minutes(1),
      jwksKidMissCooldown: Duration.seconds(10),
      verifiedTokenCacheSize: 10000,
      jwksTimeout: Duration.seconds(3),
      jwksMaxBytes: 1048576,
      jwksAllowHttp: true,
      jwksCaFile: '/opt/ca.pem',
      policyResource: 'stage',
      routeScopes: { 'GET /pets': ['read:pets'] },
      contextClaims: ['email'],
      rejectMode: 'deny',
      httpApiResponse: 'policy',
      identitySource: ['$request.header.Authorization', '$context.routeKey'],
      scopeClaims: ['permissions'],
      usageIdentifierClaim: 'client_id',
      metricsNamespace: 'JwtAuthorizer',
      metricsService: 'petstore',
      metricsFlushInterval: Duration.seconds(30),
      requireSenderConstraint: true,
      dpopProofMaxAge: Duration.seconds(30),
      dpopReplayCacheSize: 5000,
      jwksFile: '/opt/jwks.json',
      introspect: 'always',
      introspectionEndpoint: 'https://tenant.example.com/oauth2/introspect',
      introspectionClientId: 'authorizer',
      introspectionClientSecret: 'secret',
      introspectionClientSecretFile: '/opt/introspection-secret',
      introspectionClientSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:introspection-AbCdEf',
      introspectionCache: Duration.seconds(30),
      introspectionFailOpen: true,
      introspectionTimeout: Duration.seconds(1),
      introspectionMaxCallsPerSecond: 20,
      cedarPolicies: '/opt/cedar/policies',
      cedarSchema: '/opt/cedar/schema.cedarschema',
      cedarNamespace: 'PetStore',
      cedarRoutes: 'GET /pets; GET /pets/{petId}',
      apiDefinition: '/opt/cedar/openapi.yaml',
      cedarGroupsClaim: 'roles',
    } satisfies Required<AuthorizerSettings>;
    const environment = environmentFor(everything);
    expect(Object.keys(environment).sort()).toEqual(bindings.map(([, b]) => b.variable).sort());
    for (const value of Object.values(environment)) expect(value).not.toBe('');
  });

  test("deploy/cdk/README.md's property table is the one generated from the mapping", () => {
    // If this fails after adding a property: npm run readme-table -- --write
    expect(readmeTable()).toBe(propertyTable());
  });
});

describe('the Rust table reader', () => {
  test('reads rows whatever their layout, strings holding brackets, parens and escaped quotes', () => {
    const source = `
      /// VARIABLES holds rows.
      pub const VARIABLES: [(&str, &str, &str); 2] = [
          ("ONE", "(none)", "a meaning with ) and ] and \\"quotes\\""),
          (
              "TWO", // a comment with "a string"
              "5",
              "[x] (y)",
          ),
      ];
      const OTHER: [&str; 1] = ["NOT_A_VARIABLE"];`;
    expect(parseVariablesTable(source, 'x.rs')).toEqual([
      { name: 'ONE', defaultValue: '(none)', meaning: 'a meaning with ) and ] and "quotes"', file: 'x.rs' },
      { name: 'TWO', defaultValue: '5', meaning: '[x] (y)', file: 'x.rs' },
    ]);
  });

  test('refuses a file without a table, and a row that is not three strings', () => {
    expect(() => parseVariablesTable('const OTHER: [&str; 0] = [];', 'x.rs')).toThrow(/no `const VARIABLES`/);
    expect(() => parseVariablesTable('pub const VARIABLES: &[(&str, &str)] = &[("A", "1")];', 'x.rs')).toThrow(
      /2 strings, not 3/,
    );
  });

  test('the files it reads exist in this repository', () => {
    expect(fs.existsSync(path.join(REPOSITORY_ROOT, 'Cargo.toml'))).toBe(true);
  });
});
