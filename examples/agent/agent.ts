// An agent script: trades its API key for a token once, reuses it for every call, refreshes it
// before it expires, and waits when Keyport says so (429). `npm run build`, then:
//   KEYPORT_ISSUER=http://localhost:3000 KEYPORT_API_KEY=ak_live_… API_URL=http://localhost:4000 node dist/examples/agent/agent.js
import { createCaller } from '@keyport/verify/caller';

const { KEYPORT_ISSUER, KEYPORT_API_KEY, API_URL = 'http://localhost:4000', SESSION_ID = 'example-agent', CALLS = '3' } = process.env;
if (!KEYPORT_ISSUER || !KEYPORT_API_KEY) {
  process.stderr.write('agent: set KEYPORT_ISSUER and KEYPORT_API_KEY\n');
  process.exit(2);
}

const keyport = createCaller({ issuer: KEYPORT_ISSUER, apiKey: KEYPORT_API_KEY, sessionId: SESSION_ID });

const calls: Array<{ status: number; orders?: number }> = [];
for (let i = 0; i < Number(CALLS); i += 1) {
  const response = await keyport.fetch(`${API_URL}/orders`);
  const body = (await response.json()) as { orders?: unknown[] };
  calls.push({ status: response.status, orders: body.orders?.length });
}
// One JSON line: what happened, and how often Keyport was asked for a token.
console.log(JSON.stringify({ calls, keyport_requests: keyport.requests }));
