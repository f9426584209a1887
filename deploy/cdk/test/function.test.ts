import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AuthorizerCode, JwtAuthorizerFunction } from '../lib';
import { AUDIENCE, ISSUER, TEST_BOOTSTRAP, functionEnvironment, stackWithAuthorizer } from './support';

describe('JwtAuthorizerFunction', () => {
  test('runs bootstrap on provided.al2023, arm64 by default, 256 MB, 10 s', () => {
    const template = Template.fromStack(stackWithAuthorizer().stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
      MemorySize: 256,
      Timeout: 10,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^AuthLogGroup') } },
    });
  });

  test('x86_64 when asked', () => {
    const template = Template.fromStack(stackWithAuthorizer({ architecture: lambda.Architecture.X86_64 }).stack);
    template.hasResourceProperties('AWS::Lambda::Function', { Architectures: ['x86_64'] });
  });

  test('the environment holds exactly the settings given, encoded as the authorizer parses them', () => {
    const { stack } = stackWithAuthorizer({
      audiences: ['https://a.example.com', 'https://b.example.com'],
      jwksUri: 'https://tenant.example.com/.well-known/jwks.json',
      allowedAlgorithms: ['RS256', 'ES256'],
      clockSkewLeeway: Duration.seconds(30),
      jwksTimeout: Duration.seconds(2),
      jwksAllowHttp: false,
      verifiedTokenCacheSize: 0,
      routeScopes: { 'POST /pets': ['write:pets'], 'DELETE /pets/{petId}': ['admin', 'write:pets'] },
      contextClaims: ['email', 'cognito:groups'],
      rejectMode: 'deny',
      identitySource: ['method.request.header.X-Token', 'context.stage'],
      scopeClaims: ['scp', 'permissions'],
      usageIdentifierClaim: 'client_id',
      metricsFlushInterval: Duration.minutes(1),
    });
    expect(functionEnvironment(Template.fromStack(stack))).toEqual({
      TOKEN_ISSUER: ISSUER,
      AUDIENCE: 'https://a.example.com,https://b.example.com',
      JWKS_URI: 'https://tenant.example.com/.well-known/jwks.json',
      ALLOWED_ALGORITHMS: 'RS256,ES256',
      CLOCK_SKEW_LEEWAY_SECONDS: '30',
      JWKS_TIMEOUT_MS: '2000',
      JWKS_ALLOW_HTTP: 'false',
      VERIFIED_TOKEN_CACHE_SIZE: '0',
      ROUTE_SCOPES: 'POST /pets=write:pets; DELETE /pets/{petId}=admin write:pets',
      CONTEXT_CLAIMS: 'email,cognito:groups',
      REJECT_MODE: 'deny',
      // Either API's spelling, written in the HTTP API's (the authorizer reads both).
      IDENTITY_SOURCE: '$request.header.X-Token,$context.stage',
      SCOPE_CLAIMS: 'scp,permissions',
      USAGE_IDENTIFIER_CLAIM: 'client_id',
      METRICS_FLUSH_INTERVAL_SECONDS: '60',
    });
  });

  test.each([
    ['a list value with a comma', { audiences: ['a,b'] }, /AUDIENCE/],
    ['a route without a method', { routeScopes: { '/pets': ['read:pets'] } }, /ROUTE_SCOPES/],
    ['a route without scopes', { routeScopes: { 'GET /pets': [] } }, /ROUTE_SCOPES/],
    ['a scope with a space', { routeScopes: { 'GET /pets': ['read pets'] } }, /ROUTE_SCOPES/],
    ['a negative count', { maxTokenBytes: -1 }, /MAX_TOKEN_BYTES/],
    ['a fractional count', { jwksMaxBytes: 1.5 }, /JWKS_MAX_BYTES/],
    ['a leeway that is not whole seconds', { clockSkewLeeway: Duration.millis(1500) }, /whole number/],
    ['an unknown reject mode', { rejectMode: 'drop' as 'deny' }, /REJECT_MODE/],
    ['an identity source without its kind', { identitySource: ['Authorization'] }, /IDENTITY_SOURCE: 'Authorization' is not an identity source/],
    ['an identity source of the body', { identitySource: ['$request.body.token'] }, /is not an identity source/],
    ['identity sources none of which holds the token', { identitySource: ['$context.routeKey'] }, /no source holds the token/],
    ['no identity source', { identitySource: [] }, /IDENTITY_SOURCE: name 1 to 8/],
    ['a scope claim with a comma', { scopeClaims: ['scope,scp'] }, /SCOPE_CLAIMS/],
  ])('refuses %s at synth time', (_what, props, message) => {
    expect(() => stackWithAuthorizer(props)).toThrow(message);
  });

  test('the role can write its own log group and nothing else', () => {
    const template = Template.fromStack(stackWithAuthorizer().stack);
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'lambda.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
      ManagedPolicyArns: Match.absent(),
      Policies: [
        {
          PolicyName: 'write-own-logs',
          PolicyDocument: {
            Statement: [
              {
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Effect: 'Allow',
                Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AuthLogGroup'), 'Arn'] },
              },
            ],
          },
        },
      ],
    });
    template.resourceCountIs('AWS::IAM::Policy', 0);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  test('fromPackageZip takes the zip of scripts/package', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jwt-authorizer-cdk-'));
    const zip = path.join(dir, 'bootstrap.zip');
    fs.writeFileSync(zip, 'PK\u0005\u0006' + '\u0000'.repeat(18)); // an empty zip archive
    const { stack } = stackWithAuthorizer({ code: AuthorizerCode.fromPackageZip(zip) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Code: { S3Key: Match.stringLikeRegexp('\\.zip$') },
    });
  });

  test('a missing zip or bootstrap is a clear error at synth time', () => {
    expect(() => stackWithAuthorizer({ code: AuthorizerCode.fromPackageZip('/nonexistent/bootstrap.zip') })).toThrow(
      /no such file: \/nonexistent\/bootstrap.zip \(run scripts\/package first\)/,
    );
    expect(() => stackWithAuthorizer({ code: AuthorizerCode.fromBootstrapDirectory(path.dirname(TEST_BOOTSTRAP)) })).toThrow(
      /holds no file named bootstrap/,
    );
  });

  test('fromCargoProject builds this repository with cargo-lambda (bundling skipped here)', () => {
    // `aws:cdk:bundling-stacks: []` skips every bundling step: no Rust build in the test.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Cargo');
    new JwtAuthorizerFunction(stack, 'Auth', { tokenIssuer: ISSUER, audiences: [AUDIENCE] });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['arm64'],
    });
  });

  test('fromCargoProject refuses a manifest that does not exist', () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Cargo');
    expect(
      () =>
        new JwtAuthorizerFunction(stack, 'Auth', {
          code: AuthorizerCode.fromCargoProject({ manifestPath: '/nonexistent/Cargo.toml' }),
          tokenIssuer: ISSUER,
          audiences: [AUDIENCE],
        }),
    ).toThrow();
  });
});
