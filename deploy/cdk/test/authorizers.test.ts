import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { HttpApiAuthorizerOptions, JwtAuthorizerFunction, JwtAuthorizerFunctionProps } from '../lib';
import { functionEnvironment, stackWithAuthorizer } from './support';

/** A REST API with GET /pets behind `authorizer`. */
function restApi(stack: Stack, authorizer: apigateway.IAuthorizer): apigateway.RestApi {
  const api = new apigateway.RestApi(stack, 'Api');
  api.root.addResource('pets').addMethod('GET', new apigateway.MockIntegration(), { authorizer });
  return api;
}

/** An HTTP API with GET /pets behind the function's HTTP API authorizer. */
function httpApi(auth: JwtAuthorizerFunction, options?: HttpApiAuthorizerOptions): apigwv2.HttpApi {
  const api = new apigwv2.HttpApi(Stack.of(auth), 'HttpApi');
  api.addRoutes({
    path: '/pets',
    methods: [apigwv2.HttpMethod.GET],
    integration: new integrations.HttpUrlIntegration('Pets', 'https://backend.example.com/pets'),
    authorizer: auth.httpApiAuthorizer('HttpAuth', options),
  });
  return api;
}

function httpTemplate(props: Partial<JwtAuthorizerFunctionProps>, options?: HttpApiAuthorizerOptions): Template {
  const { stack, auth } = stackWithAuthorizer(props);
  httpApi(auth, options);
  return Template.fromStack(stack);
}

const restInvokePermission = {
  Action: 'lambda:InvokeFunction',
  Principal: 'apigateway.amazonaws.com',
  FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AuthFunction'), 'Arn'] },
  SourceArn: {
    'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':execute-api:'), { Ref: Match.stringLikeRegexp('^Api') }, '/authorizers/'])],
  },
};

describe('REST TOKEN authorizer', () => {
  test('source Authorization, the tutorial regex, TTL 300, and API Gateway may invoke the function', () => {
    const { stack, auth } = stackWithAuthorizer();
    restApi(stack, auth.tokenAuthorizer('Token'));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
      IdentityValidationExpression: '^Bearer [-0-9a-zA-z\\.]*$',
      AuthorizerResultTtlInSeconds: 300,
    });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: Match.stringLikeRegexp('^AuthToken') },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', restInvokePermission);
  });

  test('route rules keep any TTL: the one policy holds a Deny per refused route', () => {
    const { stack, auth } = stackWithAuthorizer({ routeScopes: { 'POST /pets': ['write:pets'] } });
    restApi(stack, auth.tokenAuthorizer('Token', { resultsCacheTtl: Duration.hours(1) }));
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 3600 });
  });

  test("policyResource 'method' turns the cache off, and refuses a TTL", () => {
    const { stack, auth } = stackWithAuthorizer({ policyResource: 'method' });
    restApi(stack, auth.tokenAuthorizer('Token'));
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 0 });
    expect(() => auth.tokenAuthorizer('Cached', { resultsCacheTtl: Duration.minutes(1) })).toThrow(
      /policyResource 'method'.*resultsCacheTtl 0/,
    );
  });

  test('an empty regex leaves validation to the function', () => {
    const { stack, auth } = stackWithAuthorizer();
    restApi(stack, auth.tokenAuthorizer('Token', { validationRegex: '' }));
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::Authorizer', {
      IdentityValidationExpression: Match.absent(),
    });
  });
});

describe('REST REQUEST authorizer', () => {
  test('identity source the Authorization header, TTL 300, invoke permission, IDENTITY_SOURCE to match', () => {
    const { stack, auth } = stackWithAuthorizer();
    restApi(stack, auth.requestAuthorizer('Request'));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 300,
    });
    template.hasResourceProperties('AWS::Lambda::Permission', restInvokePermission);
    expect(functionEnvironment(template).IDENTITY_SOURCE).toBe('$request.header.Authorization');
  });

  test('other identity sources, in REST or HTTP API spelling: REST spelling for API Gateway, IDENTITY_SOURCE to match', () => {
    const { stack, auth } = stackWithAuthorizer();
    const identitySources = [apigateway.IdentitySource.context('stage'), '$request.querystring.token', 'stageVariables.tenant'];
    restApi(stack, auth.requestAuthorizer('Request', { identitySources }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      IdentitySource: 'context.stage,method.request.querystring.token,stageVariables.tenant',
    });
    expect(functionEnvironment(template).IDENTITY_SOURCE).toBe('$context.stage,$request.querystring.token,$stageVariables.tenant');
  });

  test('refuses identity sources the authorizer would refuse at start-up, and the HTTP API route key', () => {
    const { auth } = stackWithAuthorizer();
    expect(() => auth.requestAuthorizer('Body', { identitySources: ['method.request.body.token'] })).toThrow(
      /Body: identitySources: 'method.request.body.token' is not an identity source/,
    );
    expect(() => auth.requestAuthorizer('NoToken', { identitySources: ['context.stage'] })).toThrow(/no source holds the token/);
    expect(() =>
      auth.requestAuthorizer('RouteKey', { identitySources: ['method.request.header.Authorization', '$context.routeKey'] }),
    ).toThrow(/HTTP API variable/);
  });

  test("policyResource 'method': TTL 0, and a TTL is refused", () => {
    const { stack, auth } = stackWithAuthorizer({ policyResource: 'method' });
    restApi(stack, auth.requestAuthorizer('Request'));
    Template.fromStack(stack).hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 0 });
    expect(() => auth.requestAuthorizer('Cached', { resultsCacheTtl: Duration.seconds(1) })).toThrow(/policyResource 'method'/);
  });
});

describe('HTTP API Lambda authorizer', () => {
  test('without route rules: simple responses, payload 2.0, the Authorization header, TTL 300', () => {
    const template = httpTemplate({});
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      IdentitySource: ['$request.header.Authorization'],
      AuthorizerResultTtlInSeconds: 300,
    });
    expect(functionEnvironment(template).HTTP_API_RESPONSE).toBe('simple');
    expect(functionEnvironment(template).IDENTITY_SOURCE).toBe('$request.header.Authorization');
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AuthFunction'), 'Arn'] },
      SourceArn: {
        'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('^HttpApi') }, Match.stringLikeRegexp('/authorizers/')])],
      },
    });
  });

  test('route rules: policy responses by default (a Deny per refused route in one cached policy)', () => {
    const template = httpTemplate({ routeScopes: { 'POST /pets': ['write:pets'] } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      EnableSimpleResponses: Match.absent(),
      AuthorizerResultTtlInSeconds: 300,
    });
    expect(functionEnvironment(template).HTTP_API_RESPONSE).toBe('policy');
  });

  test('a CONFIG_FILE may hold route rules: policy responses too', () => {
    const template = httpTemplate({ tokenIssuer: undefined, audiences: undefined, configFile: '/opt/issuers.toml' });
    expect(functionEnvironment(template).HTTP_API_RESPONSE).toBe('policy');
  });

  test('route rules with $context.routeKey in the identity source: simple responses, cached per route', () => {
    const identitySource = ['$request.header.Authorization', '$context.routeKey'];
    const template = httpTemplate({ routeScopes: { 'POST /pets': ['write:pets'] } }, { identitySource });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      EnableSimpleResponses: true,
      IdentitySource: identitySource,
      AuthorizerResultTtlInSeconds: 300,
    });
    expect(functionEnvironment(template)).toMatchObject({
      HTTP_API_RESPONSE: 'simple',
      IDENTITY_SOURCE: '$request.header.Authorization,$context.routeKey',
    });
  });

  test("route rules with simple responses need '$context.routeKey' in the identity source, whatever the TTL", () => {
    const rules = { routeScopes: { 'POST /pets': ['write:pets'] } };
    for (const resultsCacheTtl of [undefined, Duration.seconds(0)]) {
      expect(() => httpTemplate(rules, { responseType: 'simple', resultsCacheTtl })).toThrow(
        /route rules .* need '\$context.routeKey' in identitySource .*or responseType 'policy'/,
      );
      expect(() => httpTemplate({ configFile: '/opt/issuers.toml' }, { responseType: 'simple', resultsCacheTtl })).toThrow(
        /route rules/,
      );
    }
    const template = httpTemplate(rules, {
      responseType: 'simple',
      resultsCacheTtl: Duration.seconds(0),
      identitySource: ['$request.header.Authorization', '$context.routeKey'],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { EnableSimpleResponses: true, AuthorizerResultTtlInSeconds: 0 });
  });

  test('another token header, in either spelling: IDENTITY_SOURCE names it, in the identity source order', () => {
    const template = httpTemplate({}, { identitySource: ['$context.routeKey', 'method.request.header.X-Token'] });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { IdentitySource: ['$context.routeKey', '$request.header.X-Token'] });
    expect(functionEnvironment(template).IDENTITY_SOURCE).toBe('$context.routeKey,$request.header.X-Token');
    expect(() => httpTemplate({}, { identitySource: ['$request.cookie.token'] })).toThrow(/is not an identity source/);
  });

  test("the function's identitySource is the default, and an authorizer that differs from it throws", () => {
    const identitySource = ['$request.header.Authorization', '$context.routeKey'];
    const template = httpTemplate({ identitySource, routeScopes: { 'POST /pets': ['write:pets'] } });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { EnableSimpleResponses: true, IdentitySource: identitySource });
    expect(functionEnvironment(template).IDENTITY_SOURCE).toBe(identitySource.join(','));
    expect(() => httpTemplate({ identitySource }, { identitySource: ['$request.header.Authorization'] })).toThrow(
      /HttpAuth: this authorizer needs IDENTITY_SOURCE '\$request.header.Authorization', identitySource needs '\$request.header.Authorization,\$context.routeKey'/,
    );
  });

  test('httpApiResponse set on the function must agree with the authorizer', () => {
    expect(() => httpTemplate({ routeScopes: { 'POST /pets': ['write:pets'] }, httpApiResponse: 'simple' })).toThrow(
      /route rules/,
    );
    expect(() => httpTemplate({ httpApiResponse: 'simple' }, { responseType: 'policy' })).toThrow(
      /answers HTTP APIs with 'simple' responses/,
    );
    const template = httpTemplate({ httpApiResponse: 'policy' }, { responseType: 'policy' });
    expect(functionEnvironment(template).HTTP_API_RESPONSE).toBe('policy');
  });

  test('an explicit simple httpApiResponse with routeScopes and no route key fails synth (the authorizer would not start)', () => {
    const rules = { routeScopes: { 'POST /pets': ['write:pets'] }, httpApiResponse: 'simple' as const };
    const { stack, auth } = stackWithAuthorizer(rules);
    restApi(stack, auth.tokenAuthorizer('Token'));
    expect(() => Template.fromStack(stack)).toThrow(/httpApiResponse 'simple' with routeScopes needs '\$context.routeKey'/);
    const perRoute = stackWithAuthorizer({ ...rules, identitySource: ['$request.header.Authorization', '$context.routeKey'] });
    restApi(perRoute.stack, perRoute.auth.tokenAuthorizer('Token'));
    expect(functionEnvironment(Template.fromStack(perRoute.stack)).HTTP_API_RESPONSE).toBe('simple');
  });

  test('one function cannot serve two HTTP API authorizers of different response types', () => {
    const { auth } = stackWithAuthorizer();
    auth.httpApiAuthorizer('Simple');
    expect(() => auth.httpApiAuthorizer('Policy', { responseType: 'policy' })).toThrow(/answers HTTP APIs with 'simple'/);
  });

  test("policyResource 'method': TTL 0 unless cached per route", () => {
    const template = httpTemplate({ policyResource: 'method' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerResultTtlInSeconds: 0 });
    expect(() => httpTemplate({ policyResource: 'method' }, { resultsCacheTtl: Duration.minutes(5) })).toThrow(
      /policyResource 'method'/,
    );
    const perRoute = httpTemplate(
      { policyResource: 'method' },
      { identitySource: ['$request.header.Authorization', '$context.routeKey'] },
    );
    perRoute.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerResultTtlInSeconds: 300 });
  });
});

describe('sender-constrained tokens (requireSenderConstraint)', () => {
  const ttlZero = /requireSenderConstraint.*resultsCacheTtl 0/;

  test('REST REQUEST: TTL 0, a TTL is refused, and the DPoP header never holds the token', () => {
    const { stack, auth } = stackWithAuthorizer({ requireSenderConstraint: true });
    const identitySources = ['method.request.header.DPoP', 'method.request.header.Authorization'];
    restApi(stack, auth.requestAuthorizer('Request', { identitySources }));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      IdentitySource: 'method.request.header.DPoP,method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 0,
    });
    expect(functionEnvironment(template).IDENTITY_SOURCE).toBe('$request.header.DPoP,$request.header.Authorization');
    expect(() => auth.requestAuthorizer('Cached', { resultsCacheTtl: Duration.seconds(1) })).toThrow(ttlZero);
    expect(() => auth.requestAuthorizer('ProofOnly', { identitySources: ['method.request.header.DPoP'] })).toThrow(
      /no source holds the token/,
    );
  });

  test('a TOKEN authorizer is refused: its event carries no proof', () => {
    const { auth } = stackWithAuthorizer({ requireSenderConstraint: true });
    expect(() => auth.tokenAuthorizer('Token')).toThrow(/use requestAuthorizer/);
  });

  test('HTTP API: TTL 0 whatever the identity source, and a TTL is refused', () => {
    const template = httpTemplate({ requireSenderConstraint: true });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerResultTtlInSeconds: 0 });
    const identitySource = ['$request.header.Authorization', '$request.header.DPoP', '$context.routeKey'];
    expect(() => httpTemplate({ requireSenderConstraint: true }, { identitySource, resultsCacheTtl: Duration.minutes(5) })).toThrow(
      ttlZero,
    );
  });
});

describe('one function, several authorizers: one IDENTITY_SOURCE', () => {
  test('two HTTP API authorizers need the same identity sources, in the same order', () => {
    const { auth } = stackWithAuthorizer();
    auth.httpApiAuthorizer('First', { identitySource: ['$request.header.Authorization', '$context.routeKey'] });
    auth.httpApiAuthorizer('Same', { identitySource: ['$request.header.Authorization', '$context.routeKey'] });
    expect(() => auth.httpApiAuthorizer('Reversed', { identitySource: ['$context.routeKey', '$request.header.Authorization'] })).toThrow(
      /Reversed: this authorizer needs IDENTITY_SOURCE '\$context.routeKey,\$request.header.Authorization', First needs '\$request.header.Authorization,\$context.routeKey'.*second JwtAuthorizerFunction/,
    );
  });

  test('REST REQUEST and HTTP API authorizers agree when the token comes from the same header, in either order', () => {
    const perRoute = ['$request.header.Authorization', '$context.routeKey'];
    for (const restFirst of [true, false]) {
      const { stack, auth } = stackWithAuthorizer();
      if (restFirst) restApi(stack, auth.requestAuthorizer('Request'));
      httpApi(auth, { identitySource: perRoute });
      if (!restFirst) restApi(stack, auth.requestAuthorizer('Request'));
      // The HTTP API's list: its events are matched against it; REST events only read the header.
      expect(functionEnvironment(Template.fromStack(stack)).IDENTITY_SOURCE).toBe(perRoute.join(','));
    }
  });

  test('a REST REQUEST authorizer whose token comes from elsewhere throws, whichever comes first', () => {
    const xToken = [apigateway.IdentitySource.header('X-Token')];
    const restFirst = stackWithAuthorizer();
    restFirst.auth.requestAuthorizer('Request', { identitySources: xToken });
    expect(() => restFirst.auth.httpApiAuthorizer('Http')).toThrow(
      /Http: this authorizer needs IDENTITY_SOURCE '\$request.header.Authorization', Request needs the token in \$request.header.X-Token/,
    );
    const httpFirst = stackWithAuthorizer();
    httpFirst.auth.httpApiAuthorizer('Http');
    expect(() => httpFirst.auth.requestAuthorizer('Request', { identitySources: xToken })).toThrow(
      /Request: this authorizer needs IDENTITY_SOURCE the token in \$request.header.X-Token, Http needs '\$request.header.Authorization'/,
    );
    const twoRest = stackWithAuthorizer();
    twoRest.auth.requestAuthorizer('Header');
    expect(() => twoRest.auth.requestAuthorizer('Query', { identitySources: ['method.request.querystring.token'] })).toThrow(
      /Query: .* the token in \$request.querystring.token, Header needs the token in \$request.header.Authorization/,
    );
  });

  test('a TOKEN authorizer sets no IDENTITY_SOURCE (its event carries the token) and joins any other', () => {
    const { stack, auth } = stackWithAuthorizer();
    restApi(stack, auth.tokenAuthorizer('Token'));
    expect(functionEnvironment(Template.fromStack(stack)).IDENTITY_SOURCE).toBeUndefined();
    const mixed = stackWithAuthorizer();
    mixed.auth.tokenAuthorizer('Token');
    mixed.auth.requestAuthorizer('Request', { identitySources: [apigateway.IdentitySource.header('X-Token')] });
    expect(() => mixed.auth.httpApiAuthorizer('Http', { identitySource: ['$request.header.X-Token'] })).not.toThrow();
  });
});
