// Orders API on Koa, protected by Keyport. `npm run build`, then see examples/README.md.
import Router from '@koa/router';
import Koa from 'koa';
import { keyport } from '@keyport/verify/koa';
import { exampleConfig, ORDERS } from '../config.js';

const config = exampleConfig();
const auth = keyport(config.keyport);
const app = new Koa();
const router = new Router();

app.use(auth.metadata()); // GET /.well-known/oauth-protected-resource (RFC 9728)

router.get('/orders', auth.require('read'), (ctx) => {
  ctx.body = { orders: ORDERS, caller: ctx.state.auth };
});
router.post('/orders', auth.require('write'), (ctx) => {
  ctx.status = 201;
  ctx.body = { created: 'ord_3', by: ctx.state.auth!.sub };
});
// Deleting must not be possible with a token revoked a second ago: ask Keyport, not just the signature.
router.delete('/orders/:id', auth.require({ scopes: ['write'], introspect: true }), (ctx) => {
  ctx.body = { deleted: ctx.params.id, by: ctx.state.auth!.sub, verified_by: ctx.state.auth!.verified_by };
});

app.use(router.routes()).use(router.allowedMethods());
app.listen(config.port, config.host, () => console.log(`orders API (koa) listening on http://${config.host}:${config.port}`));
