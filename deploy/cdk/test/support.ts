import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AuthorizerCode, JwtAuthorizerFunction, JwtAuthorizerFunctionProps } from '../lib';

/** The placeholder `bootstrap` (no Rust build in the tests). */
export const TEST_BOOTSTRAP = path.join(__dirname, 'assets', 'bootstrap');

export const ISSUER = 'https://tenant.example.com/';
export const AUDIENCE = 'https://petstore.example.com';

/** A stack holding one authorizer function built from the test asset. */
export function stackWithAuthorizer(props: Partial<JwtAuthorizerFunctionProps> = {}): {
  stack: Stack;
  auth: JwtAuthorizerFunction;
} {
  const stack = new Stack(new App(), 'Test');
  const auth = new JwtAuthorizerFunction(stack, 'Auth', {
    code: AuthorizerCode.fromBootstrapDirectory(TEST_BOOTSTRAP),
    tokenIssuer: ISSUER,
    audiences: [AUDIENCE],
    ...props,
  });
  return { stack, auth };
}

/** The environment variables of the stack's only Lambda function. */
export function functionEnvironment(template: Template): Record<string, string> {
  const functions = Object.values(template.findResources('AWS::Lambda::Function'));
  expect(functions).toHaveLength(1);
  return functions[0].Properties.Environment?.Variables ?? {};
}
