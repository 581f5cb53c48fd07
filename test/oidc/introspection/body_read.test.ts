import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { ReplayableBody } from '../../../src/oidc/engine/index.js';

/**
 * The fast path reads an introspection body ahead of the engine (ReplayableBody.read, with the
 * stream's events): a whole body comes back as its text and replays to the next reader; a body cut
 * short by the client settles as a failure at once (no text, the same error replayed), never hangs.
 */
describe('oidc: introspection body read ahead of the engine', () => {
  let server: Server;
  let port: number;
  let received: Array<{ text: string | undefined; replayed: string; failed: boolean }> = [];
  let settled: () => void = () => undefined;

  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      void (async () => {
        const body = await ReplayableBody.read(req);
        const text = body.text();
        body.replay();
        let replayed = '';
        let failed = false;
        try {
          for await (const chunk of req.iterator({ destroyOnReturn: false })) replayed += (chunk as Buffer).toString('utf8');
        } catch {
          failed = true;
        }
        received.push({ text, replayed, failed });
        settled();
        if (!res.destroyed) res.end('ok');
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => { await new Promise((resolve) => server.close(resolve)); });
  beforeEach(() => { received = []; });

  function sendRaw(head: string, body: string, thenClose: boolean): Promise<void> {
    const done = new Promise<void>((resolve) => { settled = resolve; });
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head + body);
      if (thenClose) setTimeout(() => socket.destroy(), 50);
    });
    socket.on('error', () => undefined);
    socket.on('data', () => socket.end());
    return done;
  }

  it('reads a whole body in several chunks and hands the same bytes to the next reader', async () => {
    const body = 'token=abc&token_type_hint=access_token';
    const done = new Promise<void>((resolve) => { settled = resolve; });
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`POST /oauth/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
      setTimeout(() => socket.write(body.slice(10)), 30);
    });
    socket.on('data', () => socket.end());
    await done;
    expect(received).to.deep.equal([{ text: body, replayed: body, failed: false }]);
  });

  it('settles a body the client cut short as a failure, and the replay fails the same way', async () => {
    const waited = sendRaw('POST /oauth/introspect HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n', 'token=abc', true);
    const outcome = await Promise.race([waited.then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('hung'), 3000))]);
    expect(outcome).to.equal('settled');
    expect(received).to.have.length(1);
    expect(received[0]!.text).to.equal(undefined);
    expect(received[0]!.failed).to.equal(true);
  });
});
