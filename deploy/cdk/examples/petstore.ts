/**
 * The PetStore, protected by jwt-authorizer: the REST API of deploy/template.yaml (mock pets,
 * TOKEN authorizer on every method, JSON 401/403/500 answers) and the HTTP API of
 * deploy/http-api.yaml (the AWS example backend), as two stacks of one CDK app.
 *
 *   cd deploy/cdk
 *   npm ci
 *   npx cdk deploy --all -c tokenIssuer=https://YOUR_TENANT.auth0.com/ -c audience=https://petstore.example.com
 *
 * Context:
 *   tokenIssuer, audience   the issuer and its audience(s), comma-separated (required)
 *   authorizerCode          `cargo` (default: build this repository with cargo-lambda at synth
 *                           time), a `bootstrap.zip` from scripts/package, or a directory
 *                           holding `bootstrap`
 *   architecture            arm64 (default) or x86_64; a zip must have been built for it
 */
import * as fs from 'node:fs';
import { App, CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { AuthorizerCode, JwtAuthorizerFunction, JwtAuthorizerFunctionProps } from '../lib';

/** The tutorial's pets, answered by API Gateway itself. */
const PETS = [
  { id: 1, type: 'dog', price: 249.99 },
  { id: 2, type: 'cat', price: 124.99 },
  { id: 3, type: 'fish', price: 0.99 },
];

/** Writing pets needs `write:pets`: a token without it gets 403 on POST /pets, 200 elsewhere. */
const ROUTE_SCOPES = { 'POST /pets': ['write:pets'] };

export interface PetStoreProps extends StackProps {
  readonly authorizer: JwtAuthorizerFunctionProps;
}

/** The REST PetStore (mock integrations) behind a TOKEN authorizer. */
export class PetStoreRestStack extends Stack {
  constructor(scope: Construct, id: string, props: PetStoreProps) {
    super(scope, id, props);
    const auth = new JwtAuthorizerFunction(this, 'Authorizer', props.authorizer);
    const authorizer = auth.tokenAuthorizer('TokenAuthorizer');

    const api = new apigateway.RestApi(this, 'PetStore', {
      description: 'PetStore API protected by jwt-authorizer',
      endpointConfiguration: { types: [apigateway.EndpointType.REGIONAL] },
      deployOptions: { stageName: 'prod' },
      // Browsers send preflights without the token: API Gateway answers them, no authorizer.
      defaultCorsPreflightOptions: {
        allowOrigins: apigateway.Cors.ALL_ORIGINS,
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type'],
      },
    });
    const cors = { 'method.response.header.Access-Control-Allow-Origin': "'*'" };
    const ok = { statusCode: '200', responseParameters: { 'method.response.header.Access-Control-Allow-Origin': true } };
    const mock = (body: string, requestTemplate = '{"statusCode": 200}') =>
      new apigateway.MockIntegration({
        passthroughBehavior: apigateway.PassthroughBehavior.WHEN_NO_TEMPLATES,
        requestTemplates: { 'application/json': requestTemplate },
        integrationResponses: [
          { statusCode: '200', responseParameters: cors, responseTemplates: { 'application/json': body } },
          {
            statusCode: '404',
            selectionPattern: '404',
            responseParameters: cors,
            responseTemplates: { 'application/json': '{"message": "Pet not found"}' },
          },
        ],
      });
    const methodResponses = [ok, { ...ok, statusCode: '404' }];

    const pets = api.root.addResource('pets');
    pets.addMethod('GET', mock(JSON.stringify(PETS)), { authorizer, methodResponses });
    pets.addMethod('POST', mock('{"message": "success"}'), { authorizer, methodResponses });
    const byId = PETS.map((p) => `#elseif($id == '${p.id}')${JSON.stringify(p)}`).join('').replace('#elseif', '#if');
    pets.addResource('{petId}').addMethod(
      'GET',
      mock(
        `#set($id = $input.params('petId'))${byId}#end`,
        `#if($input.params('petId').matches('^[1-3]$')){"statusCode": 200}#else{"statusCode": 404}#end`,
      ),
      { authorizer, methodResponses },
    );

    // JSON answers with CORS headers when the authorizer refuses (401, 403) or fails (500).
    const headers = {
      'Access-Control-Allow-Origin': "'*'",
      'Access-Control-Allow-Headers': "'Authorization,Content-Type'",
    };
    const body = { 'application/json': '{"message": $context.error.messageString, "requestId": "$context.requestId"}' };
    api.addGatewayResponse('Unauthorized', {
      type: apigateway.ResponseType.UNAUTHORIZED,
      statusCode: '401',
      responseHeaders: { ...headers, 'WWW-Authenticate': "'Bearer'" },
      templates: body,
    });
    api.addGatewayResponse('AccessDenied', {
      type: apigateway.ResponseType.ACCESS_DENIED,
      statusCode: '403',
      responseHeaders: headers,
      templates: body,
    });
    api.addGatewayResponse('AuthorizerFailure', {
      type: apigateway.ResponseType.AUTHORIZER_FAILURE,
      statusCode: '500',
      responseHeaders: { 'Access-Control-Allow-Origin': "'*'" },
      templates: { 'application/json': '{"message": "Authorizer failure", "requestId": "$context.requestId"}' },
    });

    new CfnOutput(this, 'PetsUrl', { value: api.urlForPath('/pets'), description: 'curl -H "Authorization: Bearer $TOKEN" <this URL>' });
    new CfnOutput(this, 'AuthorizerFunctionName', { value: auth.function.functionName });
  }
}

/** The HTTP API PetStore (the AWS example backend) behind an HTTP API Lambda authorizer. */
export class PetStoreHttpStack extends Stack {
  constructor(scope: Construct, id: string, props: PetStoreProps) {
    super(scope, id, props);
    const auth = new JwtAuthorizerFunction(this, 'Authorizer', props.authorizer);
    // ROUTE_SCOPES are set, so this is a policy-response authorizer (one cached policy with a
    // Deny for POST /pets when the token lacks write:pets); see httpApiAuthorizer().
    const authorizer = auth.httpApiAuthorizer('HttpAuthorizer');

    const api = new apigwv2.HttpApi(this, 'PetStore', {
      description: 'PetStore HTTP API protected by jwt-authorizer',
      corsPreflight: {
        allowOrigins: ['*'],
        allowMethods: [apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST, apigwv2.CorsHttpMethod.OPTIONS],
        allowHeaders: ['authorization', 'content-type'],
      },
    });
    const backend = 'http://petstore-demo-endpoint.execute-api.com/petstore/pets';
    api.addRoutes({
      path: '/pets',
      methods: [apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST],
      integration: new integrations.HttpUrlIntegration('Pets', backend),
      authorizer,
    });
    api.addRoutes({
      path: '/pets/{petId}',
      methods: [apigwv2.HttpMethod.GET],
      integration: new integrations.HttpUrlIntegration('Pet', `${backend}/{petId}`),
      authorizer,
    });

    new CfnOutput(this, 'PetsUrl', { value: `${api.apiEndpoint}/pets` });
    new CfnOutput(this, 'AuthorizerFunctionName', { value: auth.function.functionName });
  }
}

function required(app: App, key: string): string {
  const value = app.node.tryGetContext(key);
  if (typeof value !== 'string' || value === '') {
    throw new Error(`set the context value ${key}: cdk synth -c ${key}=...`);
  }
  return value;
}

function codeFrom(choice: string): AuthorizerCode {
  if (choice === 'cargo') return AuthorizerCode.fromCargoProject();
  return fs.statSync(choice).isDirectory()
    ? AuthorizerCode.fromBootstrapDirectory(choice)
    : AuthorizerCode.fromPackageZip(choice);
}

const app = new App();
const architecture = app.node.tryGetContext('architecture') === 'x86_64' ? lambda.Architecture.X86_64 : lambda.Architecture.ARM_64;
const authorizer: JwtAuthorizerFunctionProps = {
  code: codeFrom(app.node.tryGetContext('authorizerCode') ?? 'cargo'),
  architecture,
  tokenIssuer: required(app, 'tokenIssuer'),
  audiences: required(app, 'audience').split(','),
  routeScopes: ROUTE_SCOPES,
};
new PetStoreRestStack(app, 'JwtAuthorizerPetStore', { authorizer });
new PetStoreHttpStack(app, 'JwtAuthorizerPetStoreHttp', { authorizer });
