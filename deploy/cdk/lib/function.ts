import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AuthorizerCode } from './code';
import { AUTHORIZATION_HEADER, ROUTE_KEY, credentialOf, parseIdentitySource, restIdentitySource } from './identity';
import { AuthorizerSettings, environmentFor } from './variables';

/** Properties of a `JwtAuthorizerFunction`: the authorizer's settings, and the Lambda's. */
export interface JwtAuthorizerFunctionProps extends AuthorizerSettings {
  /**
   * Where the `bootstrap` binary comes from.
   *
   * @default AuthorizerCode.fromCargoProject(): built from this repository at synth time
   */
  readonly code?: AuthorizerCode;
  /**
   * The Lambda architecture; arm64 (Graviton) is cheaper per GB-second. A zip from
   * `scripts/package` must have been built for it (`scripts/package --arm64`).
   *
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
  /** @default 256 */
  readonly memorySize?: number;
  /**
   * The JWKS fetch at init and on rotation is bounded by `jwksTimeout` (3 s by default).
   *
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default a name CloudFormation generates */
  readonly functionName?: string;
  /** @default 'JWT authorizer (jwt-authorizer)' */
  readonly description?: string;
  /**
   * Layers mounted under `/opt`: ship `configFile`, `jwksCaFile` (or any file the authorizer
   * reads) in one and point the setting at `/opt/NAME`.
   *
   * @default none
   */
  readonly layers?: lambda.ILayerVersion[];
}

/** The REST API authorizers' options. */
export interface RestAuthorizerOptions {
  /** @default the construct path */
  readonly authorizerName?: string;
  /**
   * How long API Gateway caches the authorizer's policy. With the default
   * `policyResource: 'stage'` the one policy is right for every route, so any TTL is safe; with
   * `policyResource: 'method'` or `requireSenderConstraint` only 0 is (anything else throws).
   *
   * @default 300 seconds ('stage'), 0 ('method', or `requireSenderConstraint`)
   */
  readonly resultsCacheTtl?: Duration;
}

/** Options of `tokenAuthorizer()`. */
export interface TokenAuthorizerOptions extends RestAuthorizerOptions {
  /**
   * API Gateway answers 401 itself, without invoking the function, when the header does not
   * match. Empty string: no validation.
   *
   * @default '^Bearer [-0-9a-zA-z\.]*$' (the tutorial's)
   */
  readonly validationRegex?: string;
}

/** Options of `requestAuthorizer()`. */
export interface RequestAuthorizerOptions extends RestAuthorizerOptions {
  /**
   * The cache key (and, when caching, the values that must be present), in REST syntax
   * (`apigateway.IdentitySource.header('X-Token')`) or HTTP API syntax (`$request.header.X-Token`).
   * The authorizer reads the token from the first header or query parameter among them; the
   * function's `IDENTITY_SOURCE` is set to match.
   *
   * @default [IdentitySource.header('Authorization')]
   */
  readonly identitySources?: string[];
}

/** Options of `httpApiAuthorizer()`. */
export interface HttpApiAuthorizerOptions {
  /** @default the construct id */
  readonly authorizerName?: string;
  /**
   * The cache key, in order. Add `$context.routeKey` to cache per route, which simple
   * responses need under route rules. The authorizer verifies the token among these values
   * (the first header or query parameter); the function's `IDENTITY_SOURCE` is set to match.
   *
   * @default the function's `identitySource` if set, else ['$request.header.Authorization']
   */
  readonly identitySource?: string[];
  /**
   * With `requireSenderConstraint` only 0 is safe (anything else throws): a DPoP proof changes
   * with every request, and a cached answer is reused without it.
   *
   * @default 300 seconds (0 with `policyResource: 'method'` or `requireSenderConstraint`)
   */
  readonly resultsCacheTtl?: Duration;
  /**
   * `simple` ({"isAuthorized"}) or `policy` (an IAM policy). A simple answer is about the
   * called route only, and API Gateway caches it for every route; so when route rules may exist
   * (`routeScopes` or `configFile` set) and the identity source lacks `$context.routeKey`, the
   * default is `policy`, whose one cached policy holds an explicit Deny for each refused route,
   * and `simple` throws, whatever the TTL (the authorizer, which cannot see the TTL, would
   * refuse every event as `unsafe_cache_key`). Sets the function's `HTTP_API_RESPONSE` to match.
   *
   * @default the function's `httpApiResponse` if set; else 'policy' when route rules may exist
   * and the cache is not per route, else 'simple'
   */
  readonly responseType?: 'simple' | 'policy';
}

/** The tutorial's token check: API Gateway refuses other headers without invoking the function. */
export const TUTORIAL_VALIDATION_REGEX = '^Bearer [-0-9a-zA-z\\.]*$';

const DEFAULT_TTL = Duration.minutes(5);

/** What one authorizer (or the `identitySource` property) needs of `IDENTITY_SOURCE`. */
interface IdentitySourceNeed {
  /** The authorizer's id, or the property. */
  readonly by: string;
  /** Its identity sources, in HTTP API syntax. */
  readonly sources: readonly string[];
  /**
   * HTTP API authorizers (and the property) need exactly their list: the authorizer matches
   * the event's `identitySource` values against it. REST `REQUEST` authorizers only need the
   * token's source to be the one they name.
   */
  readonly exact: boolean;
}

function describeNeed(need: IdentitySourceNeed): string {
  return need.exact ? `'${need.sources.join(',')}'` : `the token in ${credentialOf(need.sources)}`;
}

/**
 * The jwt-authorizer Lambda function (`provided.al2023`, handler `bootstrap`, arm64 by default),
 * with its own log group and a role that can only write to it, and helpers that attach it to
 * REST APIs (TOKEN, REQUEST) and HTTP APIs with route-safe identity sources, TTLs and response
 * types.
 *
 * ```ts
 * const auth = new JwtAuthorizerFunction(this, 'Auth', {
 *   tokenIssuer: 'https://tenant.auth0.com/',
 *   audiences: ['https://petstore.example.com'],
 *   routeScopes: { 'POST /pets': ['write:pets'] },
 * });
 * api.root.addResource('pets').addMethod('GET', integration, { authorizer: auth.tokenAuthorizer('Token') });
 * ```
 */
export class JwtAuthorizerFunction extends Construct {
  /** The Lambda function. */
  public readonly function: lambda.Function;
  /** Its log group. */
  public readonly logGroup: logs.LogGroup;
  /** Its execution role: writes its own log group, nothing else (the authorizer calls no AWS API). */
  public readonly role: iam.Role;
  /** The settings it was created with. */
  public readonly settings: AuthorizerSettings;
  private httpApiResponse?: 'simple' | 'policy';
  private readonly identitySourceNeeds: IdentitySourceNeed[] = [];

  constructor(scope: Construct, id: string, props: JwtAuthorizerFunctionProps) {
    super(scope, id);
    this.settings = props;
    this.httpApiResponse = props.httpApiResponse;
    if (props.identitySource !== undefined) {
      this.identitySourceNeeds.push({
        by: 'identitySource',
        sources: parseIdentitySource(props.identitySource, 'IDENTITY_SOURCE'),
        exact: true,
      });
    }

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The log group exists before the function, so logs:CreateLogGroup is not needed.
    this.role = new iam.Role(this, 'Role', {
      description: 'jwt-authorizer Lambda execution role (CloudWatch Logs only)',
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      inlinePolicies: {
        'write-own-logs': new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({
              actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
              resources: [this.logGroup.logGroupArn],
            }),
          ],
        }),
      },
    });

    const code = props.code ?? AuthorizerCode.fromCargoProject();
    this.function = code._createFunction(this, 'Function', {
      architecture: props.architecture ?? lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(10),
      functionName: props.functionName,
      description: props.description ?? 'JWT authorizer (jwt-authorizer)',
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      layers: props.layers,
      environment: environmentFor(props),
    });
    // aws-lambda's Function makes itself depend on its role, so that policies added to the role
    // later exist before the function; with the role's ARN in `Role`, cfn-lint calls that
    // redundant (W3005). The dependency is kept: it is right once addToRolePolicy() is called.
    (this.function.node.defaultChild as lambda.CfnFunction).addMetadata('cfn-lint', {
      config: { ignore_checks: ['W3005'] },
    });
    // An explicit HTTP_API_RESPONSE=simple with route rules and no route key in IDENTITY_SOURCE
    // stops the authorizer at start-up; checked once every helper has had its say.
    this.node.addValidation({ validate: () => this.startupProblems() });
  }

  /** A REST API `TOKEN` authorizer: source `Authorization`, the tutorial's regex, a safe TTL. */
  public tokenAuthorizer(id: string, options: TokenAuthorizerOptions = {}): apigateway.TokenAuthorizer {
    if (this.settings.requireSenderConstraint) {
      throw new Error(
        `${id}: a TOKEN event carries one header, never a DPoP proof or a client certificate, so with ` +
          `requireSenderConstraint every token would be refused: use requestAuthorizer`,
      );
    }
    const regex = options.validationRegex ?? TUTORIAL_VALIDATION_REGEX;
    return new apigateway.TokenAuthorizer(this, id, {
      handler: this.function,
      authorizerName: options.authorizerName,
      identitySource: apigateway.IdentitySource.header('Authorization'),
      validationRegex: regex === '' ? undefined : regex,
      resultsCacheTtl: this.restTtl(id, options.resultsCacheTtl),
    });
  }

  /**
   * A REST API `REQUEST` authorizer: the token from the `Authorization` header (or the first
   * header or query parameter of `identitySources`), a safe TTL. Sets `IDENTITY_SOURCE` to match.
   */
  public requestAuthorizer(id: string, options: RequestAuthorizerOptions = {}): apigateway.RequestAuthorizer {
    const sources = parseIdentitySource(
      options.identitySources ?? [apigateway.IdentitySource.header('Authorization')],
      `${id}: identitySources`,
    );
    if (sources.includes(ROUTE_KEY)) {
      throw new Error(`${id}: '${ROUTE_KEY}' is an HTTP API variable; a REST API has none of that name`);
    }
    const ttl = this.restTtl(id, options.resultsCacheTtl);
    this.requireIdentitySource({ by: id, sources, exact: false });
    return new apigateway.RequestAuthorizer(this, id, {
      handler: this.function,
      authorizerName: options.authorizerName,
      identitySources: sources.map(restIdentitySource),
      resultsCacheTtl: ttl,
    });
  }

  /**
   * An HTTP API Lambda authorizer (payload 2.0) whose response type is safe for the route
   * rules (see `HttpApiAuthorizerOptions.responseType`). Sets `HTTP_API_RESPONSE` to match.
   */
  public httpApiAuthorizer(id: string, options: HttpApiAuthorizerOptions = {}): authorizers.HttpLambdaAuthorizer {
    const identitySource = parseIdentitySource(
      options.identitySource ?? this.settings.identitySource ?? [AUTHORIZATION_HEADER],
      `${id}: identitySource`,
    );
    const perRoute = identitySource.includes(ROUTE_KEY);
    const routeRulesMayExist =
      Object.keys(this.settings.routeScopes ?? {}).length > 0 || this.settings.configFile !== undefined;
    const methodOnly = this.settings.policyResource === 'method';
    const ttl =
      this.senderConstrainedTtl(id, options.resultsCacheTtl) ??
      options.resultsCacheTtl ??
      (methodOnly && !perRoute ? Duration.seconds(0) : DEFAULT_TTL);
    const caches = ttl.toSeconds() > 0 && !perRoute;
    const responseType =
      options.responseType ?? this.httpApiResponse ?? (routeRulesMayExist && !perRoute ? 'policy' : 'simple');

    if (responseType === 'simple' && routeRulesMayExist && !perRoute) {
      throw new Error(
        `${id}: a simple response answers for the called route only, and API Gateway would reuse it ` +
          `on every route of the same identity source, so route rules (routeScopes/configFile) need ` +
          `'${ROUTE_KEY}' in identitySource (whatever the TTL: the authorizer refuses the events ` +
          `otherwise), or responseType 'policy'`,
      );
    }
    if (methodOnly && caches) {
      throw new Error(
        `${id}: policyResource 'method' allows only the called route, which API Gateway would reuse ` +
          `on every route: use resultsCacheTtl 0, '$context.routeKey' in identitySource, or policyResource 'stage'`,
      );
    }
    if (this.httpApiResponse !== undefined && this.httpApiResponse !== responseType) {
      throw new Error(
        `${id}: the function answers HTTP APIs with '${this.httpApiResponse}' responses ` +
          `(httpApiResponse or another authorizer), this authorizer needs '${responseType}'`,
      );
    }
    this.requireIdentitySource({ by: id, sources: identitySource, exact: true });
    this.httpApiResponse = responseType;
    this.function.addEnvironment('HTTP_API_RESPONSE', responseType);

    return new authorizers.HttpLambdaAuthorizer(id, this.function, {
      authorizerName: options.authorizerName,
      identitySource,
      resultsCacheTtl: ttl,
      responseTypes: [
        responseType === 'simple' ? authorizers.HttpLambdaResponseType.SIMPLE : authorizers.HttpLambdaResponseType.IAM,
      ],
    });
  }

  /**
   * Records what an authorizer needs of `IDENTITY_SOURCE` and sets the variable to a value every
   * authorizer of the function accepts: the exact list of the HTTP API authorizers (and of the
   * `identitySource` property), else the first REST authorizer's.
   *
   * @throws when the needs disagree: the function's one variable cannot serve them all
   */
  private requireIdentitySource(need: IdentitySourceNeed): void {
    const needs = [...this.identitySourceNeeds, need];
    const chosen = needs.find((n) => n.exact) ?? needs[0];
    const value = chosen.sources.join(',');
    for (const other of needs) {
      const accepts = other.exact
        ? other.sources.join(',') === value
        : credentialOf(other.sources) === credentialOf(chosen.sources);
      if (!accepts) {
        const [mine, theirs] = other === need ? [need, chosen] : [need, other];
        throw new Error(
          `${need.by}: this authorizer needs IDENTITY_SOURCE ${describeNeed(mine)}, ${theirs.by} needs ` +
            `${describeNeed(theirs)}; the function has one IDENTITY_SOURCE (HTTP API authorizers need ` +
            `the same identity sources in the same order, REST REQUEST authorizers the same token source): ` +
            `use a second JwtAuthorizerFunction`,
        );
      }
    }
    this.identitySourceNeeds.push(need);
    this.function.addEnvironment('IDENTITY_SOURCE', value);
  }

  /** What would stop the authorizer at start-up, given the settings and what the helpers set. */
  private startupProblems(): string[] {
    const identitySource = this.identitySourceNeeds.find((n) => n.exact) ?? this.identitySourceNeeds[0];
    const perRoute = identitySource?.sources.includes(ROUTE_KEY) ?? false;
    const routeRules = Object.keys(this.settings.routeScopes ?? {}).length > 0;
    if (this.httpApiResponse === 'simple' && routeRules && !perRoute) {
      return [
        `httpApiResponse 'simple' with routeScopes needs '${ROUTE_KEY}' in IDENTITY_SOURCE, or the ` +
          `authorizer does not start: set httpApiResponse 'policy', or identitySource to the ` +
          `authorizer's identity sources with '${ROUTE_KEY}' among them`,
      ];
    }
    return [];
  }

  /**
   * With `requireSenderConstraint`, 0, and a TTL above 0 throws: a cached answer is reused
   * without calling the authorizer, so no proof (a DPoP proof changes with every request) and no
   * client certificate would be checked for the requests it answers; `undefined` otherwise.
   */
  private senderConstrainedTtl(id: string, requested: Duration | undefined): Duration | undefined {
    if (!this.settings.requireSenderConstraint) {
      return undefined;
    }
    if (requested !== undefined && requested.toSeconds() > 0) {
      throw new Error(
        `${id}: with requireSenderConstraint each request's proof must reach the authorizer, and API ` +
          `Gateway answers a cached Allow without it (a replayed or missing DPoP proof, another ` +
          `client certificate): use resultsCacheTtl 0`,
      );
    }
    return Duration.seconds(0);
  }

  /** The REST TTL: any with `policyResource: 'stage'`, only 0 with 'method' or sender constraints. */
  private restTtl(id: string, requested: Duration | undefined): Duration {
    const bound = this.senderConstrainedTtl(id, requested);
    if (bound !== undefined) {
      return bound;
    }
    if (this.settings.policyResource !== 'method') {
      return requested ?? DEFAULT_TTL;
    }
    if (requested !== undefined && requested.toSeconds() > 0) {
      throw new Error(
        `${id}: policyResource 'method' allows only the called method, which API Gateway would reuse ` +
          `on every method of the stage: use resultsCacheTtl 0 or policyResource 'stage'`,
      );
    }
    return Duration.seconds(0);
  }
}
