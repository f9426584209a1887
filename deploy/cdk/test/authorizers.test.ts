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
  test('identity source the Authorization header, TTL 300, invoke permission', () => {
    const { stack, auth } = stackWithAuthorizer();
    restApi(stack, auth.requestAuthorizer('Request'));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: 300,
    });
    template.hasResourceProperties('AWS::Lambda::Permission', restInvokePermission);
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
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { EnableSimpleResponses: true, IdentitySource: identitySource });
    expect(functionEnvironment(template).HTTP_API_RESPONSE).toBe('simple');
  });

  test('route rules with simple responses need TTL 0', () => {
    const rules = { routeScopes: { 'POST /pets': ['write:pets'] } };
    expect(() => httpTemplate(rules, { responseType: 'simple' })).toThrow(/route rules .* need responseType 'policy'/);
    const template = httpTemplate(rules, { responseType: 'simple', resultsCacheTtl: Duration.seconds(0) });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { EnableSimpleResponses: true, AuthorizerResultTtlInSeconds: 0 });
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
