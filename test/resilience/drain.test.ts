import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, type ServerProcess } from '../../bench/lib/processes.js';
import { KEYPORT_MAIN } from '../../bench/lib/paths.js';
import { SERVER_NODE_OPTIONS } from '../../src/server_node_options.js';
import { freePort, startTestApp, type TestApp } from '../support/app.js';

/** A raw connection that sends what it is told and collects what comes back until the server closes it. */
async function rawConnection(url: string): Promise<{ socket: Socket; received: Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const received = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
    socket.on('close', () => resolve(text));
    socket.on('error', () => {});
  });
  return { socket, received };
}

describe('resilience: graceful drain', function () {
  this.timeout(30_000);

  describe('in process', () => {
    let app: TestApp;
    before(async () => { app = await startTestApp(); });
    after(async () => { await app.close(); });

    it('turns readiness off at once, answers what it had begun reading with Connection: close, then stops accepting', async () => {
      // A request whose headers are half sent when the drain begins: the connection is busy, not idle.
      const busy = await rawConnection(app.url);
      busy.socket.write('GET /readyz HTTP/1.1\r\nHost: keyport\r\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closing = app.running.close();
      expect(app.services.lifecycle.draining).to.equal(true);

      busy.socket.write('\r\n');
      const answer = await busy.received;
      const [head, body] = answer.split('\r\n\r\n');
      expect(head).to.match(/^HTTP\/1\.1 503 /);
      expect(head).to.match(/\r\nConnection: close\r\n/i);
      expect(head).to.match(/\r\nRetry-After: 1\r\n/i);
      expect(JSON.parse(body!)).to.deep.include({ status: 'draining' });
      expect(JSON.parse(body!).error.code).to.equal('service_unavailable');

      const report = await closing;
      // Its headers were not complete when the drain began, so it was not yet "read" (in flight), and nothing was cut.
      expect(report).to.include({ inFlightAtStart: 0, cut: 0 });
      const refused = await new Promise<string>((resolve) => {
        const { hostname, port } = new URL(app.url);
        connect(Number(port), hostname).once('connect', () => resolve('connected')).once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      });
      expect(refused).to.equal('ECONNREFUSED');
    });
  });

  describe('the process (node dist/src/main.js)', () => {
    let work: string;
    let server: ServerProcess;

    beforeEach(async () => {
      work = mkdtempSync(join(tmpdir(), 'keyport-drain-'));
      const port = await freePort();
      server = await spawnServer({
        name: 'keyport',
        script: KEYPORT_MAIN,
        nodeArgs: SERVER_NODE_OPTIONS,
        env: {
          PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', ISSUER: `http://127.0.0.1:${port}`,
          DATABASE_URL: `sqlite:${join(work, 'keyport.db')}`, DATA_DIR: work, KEYPORT_SECRET: randomBytes(36).toString('base64url'), BCRYPT_ROUNDS: '4',
        },
        url: `http://127.0.0.1:${port}`,
        readyPath: '/readyz',
        logFile: join(work, 'keyport.log'),
      });
    });

    afterEach(async () => {
      await server.stop(2000);
      rmSync(work, { recursive: true, force: true });
    });

    const logMessages = (): string[] => readFileSync(server.logFile, 'utf8').split('\n').filter((line) => line.startsWith('{')).map((line) => String((JSON.parse(line) as { message?: unknown }).message));

    it('exits 0 soon after SIGTERM when idle, after closing pools and reporting what it drained', async () => {
      const started = Date.now();
      process.kill(server.pid, 'SIGTERM');
      expect(await server.exited).to.equal('0');
      expect(Date.now() - started).to.be.below(3000);
      expect(logMessages()).to.include.members(['shutting down: draining', 'shut down']);
    });

    it('exits at once on a second signal, while a request still holds the drain', async () => {
      // An upload that never finishes: in flight until its budget (5 s) is spent.
      const stuck = await rawConnection(server.url);
      stuck.socket.write('POST /auth/login HTTP/1.1\r\nHost: keyport\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"session_id"');
      await new Promise((resolve) => setTimeout(resolve, 200));
      process.kill(server.pid, 'SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(server.exitStatus, 'still draining').to.equal(undefined);
      const second = Date.now();
      process.kill(server.pid, 'SIGTERM');
      expect(await server.exited).to.equal('143');
      expect(Date.now() - second).to.be.below(1000);
      expect(logMessages()).to.include('second signal: exiting at once');
      stuck.socket.destroy();
    });
  });
});
