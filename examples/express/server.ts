// Orders API on Express, protected by Keyport. `npm run build`, then see examples/README.md.
import express from 'express';
import { keyport } from '@keyport/verify/express';
import { exampleConfig, ORDERS } from '../config.js';

const config = exampleConfig();
const auth = keyport(config.keyport);
const app = express();

app.use(auth.metadata()); // GET /.well-known/oauth-protected-resource (RFC 9728)

app.get('/orders', auth.require('read'), (req, res) => {
  res.json({ orders: ORDERS, caller: req.auth });
});
app.post('/orders', auth.require('write'), (req, res) => {
  res.status(201).json({ created: 'ord_3', by: req.auth!.sub });
});
// Deleting must not be possible with a token revoked a second ago: ask Keyport, not just the signature.
app.delete('/orders/:id', auth.require({ scopes: ['write'], introspect: true }), (req, res) => {
  res.json({ deleted: req.params.id, by: req.auth!.sub, verified_by: req.auth!.verified_by });
});

// Express 5 calls this with the error when the port cannot be had (EADDRINUSE): say so and stop.
app.listen(config.port, config.host, (error?: Error) => {
  if (error) throw error;
  console.log(`orders API (express) listening on http://${config.host}:${config.port}`);
});
