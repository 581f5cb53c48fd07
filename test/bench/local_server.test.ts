import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { localMysqlServerPid, pidListeningOn } from '../../bench/lib/local_server.js';

function listen(host: string): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

function closed(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The bench's "DB CPU µs/req" column finds the database server by the port it listens on. */
describe('bench: the local process behind a port (bench/lib/local_server.ts)', () => {
  before(function () {
    if (!existsSync('/proc/net/tcp')) this.skip();
  });

  it('finds the process listening on a port, whichever local address it is bound to', async () => {
    for (const host of ['127.0.0.1', '0.0.0.0']) {
      const { server, port } = await listen(host);
      try {
        expect(pidListeningOn(port), host).to.equal(process.pid);
        expect(localMysqlServerPid(`mysql://root@127.0.0.1:${port}/test`), host).to.equal(process.pid);
        expect(localMysqlServerPid(`mysql://root@localhost:${port}`), host).to.equal(process.pid);
      } finally {
        await closed(server);
      }
    }
  });

  it('finds nobody on a port nothing listens on any more, and never looks for a remote server', async () => {
    const { server, port } = await listen('127.0.0.1');
    await closed(server);
    expect(pidListeningOn(port)).to.equal(undefined);
    // A server elsewhere is not a process of this machine, even if something here has that port.
    const local = await listen('127.0.0.1');
    try {
      expect(localMysqlServerPid(`mysql://root@db.example.com:${local.port}/test`)).to.equal(undefined);
      expect(localMysqlServerPid('not a url')).to.equal(undefined);
    } finally {
      await closed(local.server);
    }
  });
});
