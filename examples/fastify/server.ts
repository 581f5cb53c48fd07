// Orders API on Fastify, protected by Keyport. `npm run build`, then see examples/README.md.
import Fastify from 'fastify';
import { keyport } from '@keyport/verify/fastify';
import { exampleConfig, ORDERS } from '../config.js';

const config = exampleConfig();
const auth = keyport(config.keyport);
const app = Fastify();

await app.register(auth.plugin); // request.auth, and GET /.well-known/oauth-protected-resource (RFC 9728)

app.get('/orders', { onRequest: auth.require('read') }, async (request) => ({ orders: ORDERS, caller: request.auth }));
app.post('/orders', { onRequest: auth.require('write') }, async (request, reply) => reply.code(201).send({ created: 'ord_3', by: request.auth!.sub }));
// Deleting must not be possible with a token revoked a second ago: ask Keyport, not just the signature.
app.delete<{ Params: { id: string } }>('/orders/:id', { onRequest: auth.require({ scopes: ['write'], introspect: true }) }, async (request) => (
  { deleted: request.params.id, by: request.auth!.sub, verified_by: request.auth!.verified_by }
));

await app.listen({ port: config.port, host: config.host });
console.log(`orders API (fastify) listening on http://${config.host}:${config.port}`);
