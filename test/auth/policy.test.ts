import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyStatement } from '../../src/config/schema.js';
import { apigatewayArn, compilePolicy, executeApiArn, isAllowed } from '../../src/auth/policy.js';

const allow = (action: string[], resource: string[] = ['*']): PolicyStatement => ({ effect: 'Allow', action, resource });
const deny = (action: string[], resource: string[] = ['*']): PolicyStatement => ({ effect: 'Deny', action, resource });

const PET_123 = 'arn:aws:execute-api:us-east-1:000000000000:petstore/prod/GET/pets/123';

describe('policy evaluation', () => {
  it('denies by default: no statements, or no matching Allow', () => {
    assert.equal(isAllowed([], 'apigateway:GET', '*'), false);
    assert.equal(isAllowed([allow(['apigateway:GET'])], 'apigateway:DELETE', 'arn:aws:apigateway:us-east-1::/restapis'), false);
  });

  it('* matches any run, including / and :', () => {
    const policy = compilePolicy([allow(['execute-api:*'], ['arn:aws:execute-api:*:petstore/prod/*'])]);
    assert.equal(policy.allows('execute-api:InvalidateCache', PET_123), true);
    assert.equal(policy.allows('execute-api:Invoke', 'arn:aws:execute-api:us-east-1:000000000000:petstore/prod/'), true);
    assert.equal(policy.allows('execute-api:Invoke', 'arn:aws:execute-api:us-east-1:000000000000:petstore/dev/GET/pets'), false);
    assert.equal(compilePolicy([allow(['*'])]).allows('apigateway:PATCH', 'anything at all\nreally'), true);
  });

  it('? matches exactly one character', () => {
    const policy = compilePolicy([allow(['apigateway:???'], ['arn:aws:apigateway:us-east-1::/restapis/pet?'])]);
    assert.equal(policy.allows('apigateway:GET', 'arn:aws:apigateway:us-east-1::/restapis/pet1'), true);
    assert.equal(policy.allows('apigateway:PUT', 'arn:aws:apigateway:us-east-1::/restapis/pet'), false);
    assert.equal(policy.allows('apigateway:PUT', 'arn:aws:apigateway:us-east-1::/restapis/pet12'), false);
    assert.equal(policy.allows('apigateway:POST', 'arn:aws:apigateway:us-east-1::/restapis/pet1'), false);
  });

  it('treats other characters literally (no regex leaks)', () => {
    const policy = compilePolicy([allow(['apigateway:GET'], ['arn:aws:apigateway:us-east-1::/restapis/a.b/(x)+[y]{z}|$^'])]);
    assert.equal(policy.allows('apigateway:GET', 'arn:aws:apigateway:us-east-1::/restapis/a.b/(x)+[y]{z}|$^'), true);
    assert.equal(policy.allows('apigateway:GET', 'arn:aws:apigateway:us-east-1::/restapis/aXb/(x)+[y]{z}|$^'), false);
  });

  it('compares actions case-insensitively and resources case-sensitively', () => {
    const policy = compilePolicy([allow(['apigateway:GET', 'Execute-Api:invalidatecache'], ['arn:aws:*:petstore/*', 'arn:aws:apigateway:*'])]);
    assert.equal(policy.allows('apigateway:get', 'arn:aws:apigateway:us-east-1::/restapis'), true);
    assert.equal(policy.allows('execute-api:InvalidateCache', PET_123), true);
    assert.equal(policy.allows('execute-api:InvalidateCache', PET_123.replace('petstore', 'PetStore')), false);
  });

  it('lets an explicit Deny win over any Allow, whatever the order', () => {
    const statements = [allow(['execute-api:*']), deny(['execute-api:InvalidateCache'], ['arn:aws:execute-api:*:petstore/prod/*'])];
    for (const order of [statements, [...statements].reverse()]) {
      const policy = compilePolicy(order);
      assert.equal(policy.allows('execute-api:InvalidateCache', PET_123), false);
      assert.equal(policy.allows('execute-api:invalidatecache', PET_123), false);
      assert.equal(policy.allows('execute-api:Invoke', PET_123), true);
      assert.equal(policy.allows('execute-api:InvalidateCache', PET_123.replace('/prod/', '/dev/')), true);
    }
  });

  it('an empty action or resource list matches nothing', () => {
    assert.equal(isAllowed([allow([], ['*'])], '', '*'), false);
    assert.equal(isAllowed([allow(['*'], [])], 'apigateway:GET', ''), false);
  });
});

describe('ARN builders', () => {
  it('builds execute-api ARNs (method upper-cased, leading / optional)', () => {
    assert.equal(executeApiArn('us-east-1', '000000000000', 'petstore', 'prod', 'GET', 'pets/123'), PET_123);
    assert.equal(executeApiArn('us-east-1', '000000000000', 'petstore', 'prod', 'get', '/pets/123'), PET_123);
    assert.equal(executeApiArn('us-east-1', '000000000000', 'petstore', 'prod', 'GET', ''), 'arn:aws:execute-api:us-east-1:000000000000:petstore/prod/GET/');
  });

  it('builds apigateway ARNs', () => {
    assert.equal(apigatewayArn('us-east-1', '/restapis/petstore/stages/prod'), 'arn:aws:apigateway:us-east-1::/restapis/petstore/stages/prod');
  });

  it('SPEC §5 example: InvalidateCache with a wildcard policy', () => {
    const policy = compilePolicy([allow(['execute-api:InvalidateCache'], ['arn:aws:execute-api:us-east-1:000000000000:petstore/*/GET/pets/*'])]);
    assert.equal(policy.allows('execute-api:InvalidateCache', executeApiArn('us-east-1', '000000000000', 'petstore', 'prod', 'GET', 'pets/123')), true);
    assert.equal(policy.allows('execute-api:InvalidateCache', executeApiArn('us-east-1', '000000000000', 'petstore', 'prod', 'POST', 'pets/123')), false);
  });
});
