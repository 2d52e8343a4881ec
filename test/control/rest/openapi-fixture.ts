/** OpenAPI documents for control-plane and import tests. */

/** An OpenAPI 3 document as users export it from API Gateway. */
export function petstoreSpec(backendUrl: string, title = 'Imported Pets'): string {
  return `
openapi: 3.0.1
info: { title: ${title}, version: "2024-05-01" }
paths:
  /pets/{petId}:
    get:
      parameters:
        - { name: petId, in: path, required: true, schema: { type: string } }
        - { name: type, in: query, schema: { type: string } }
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: ${backendUrl}/animals/{id}
        requestParameters: { integration.request.path.id: method.request.path.petId }
        cacheKeyParameters: [method.request.querystring.type]
        cacheNamespace: pets
        timeoutInMillis: 5000
  /hello:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default:
            statusCode: "200"
            responseParameters: { method.response.header.X-Mock: "'yes'" }
            responseTemplates: { application/json: '{"hello":"world"}' }
  /lambda:
    post:
      x-amazon-apigateway-integration: { type: aws_proxy, httpMethod: POST, uri: "arn:aws:apigateway:us-east-1:lambda:path/fn" }
`;
}
