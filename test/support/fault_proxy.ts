import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * - pass: bytes flow both ways;
 * - freeze: connections are accepted and bytes read, but nothing is forwarded either way (a
 *   SIGSTOPped server: the kernel takes the bytes, nobody answers); on `pass()` everything held
 *   back is delivered, including connections opened meanwhile;
 * - refuse: new connections are refused (nothing listens) and open ones are reset.
 */
export type FaultMode = 'pass' | 'freeze' | 'refuse';

/** One client connection and its upstream twin, with what a freeze held back. */
class Link {
  upstream: Socket | undefined;
  readonly toUpstream: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  clientEnded = false;
  upstreamEnded = false;
  closed = false;

  constructor(readonly client: Socket) {}
}

/**
 * A TCP proxy for fault injection (test/resilience): Keyport talks to MariaDB or Redis through it,
 * and a test switches it between passing, freezing and refusing, or resets every open connection
 * (RST) in the middle of whatever is in flight. Only ever points at servers on this machine.
 */
export class FaultProxy {
  private server: Server | undefined;
  private resetTimer: NodeJS.Timeout | undefined;
  private readonly links = new Set<Link>();
  private current: FaultMode = 'pass';
  /** Connections accepted since start (a reconnecting client shows here). */
  accepted = 0;
  /** Connections reset by `resetAll()` or `refuse()`. */
  resets = 0;

  private constructor(readonly port: number, private readonly target: { host: string; port: number }) {}

  /** Listens on `port` (0: a free one) and forwards to `target`. */
  static async start(target: { host: string; port: number }, port = 0): Promise<FaultProxy> {
    const server = createServer();
    await listen(server, port);
    const proxy = new FaultProxy((server.address() as { port: number }).port, target);
    proxy.adopt(server);
    return proxy;
  }

  get mode(): FaultMode {
    return this.current;
  }

  get openConnections(): number {
    return this.links.size;
  }

  /** What clients sent that a freeze is holding back (not yet forwarded), all connections together. */
  heldFromClients(): Buffer {
    return Buffer.concat([...this.links].flatMap((link) => link.toUpstream));
  }

  /** Lets bytes flow again; delivers what a freeze held back; listens again after a refusal; stops repeated resets. */
  async pass(): Promise<void> {
    clearInterval(this.resetTimer);
    this.resetTimer = undefined;
    const previous = this.current;
    this.current = 'pass';
    if (previous === 'refuse') {
      const server = createServer();
      await listen(server, this.port);
      this.adopt(server);
    }
    for (const link of this.links) this.flush(link);
  }

  freeze(): void {
    this.current = 'freeze';
  }

  /** Stops listening (new connections are refused) and resets the open ones. */
  async refuse(): Promise<void> {
    this.current = 'refuse';
    const server = this.server;
    this.server = undefined;
    this.resetAll();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Resets (RST) every open connection, both sides, whatever is in flight; new ones are accepted as usual. */
  resetAll(): void {
    for (const link of [...this.links]) {
      this.resets += 1;
      this.drop(link, true);
    }
  }

  /**
   * Resets every open connection now and again every `intervalMs` until `pass()`, while new
   * connections are accepted and pass: statements are cut mid-flight again and again, some after
   * the server applied them and before the client heard so.
   */
  resetEvery(intervalMs: number): void {
    this.resetAll();
    clearInterval(this.resetTimer);
    this.resetTimer = setInterval(() => this.resetAll(), intervalMs);
  }

  async close(): Promise<void> {
    clearInterval(this.resetTimer);
    const server = this.server;
    this.server = undefined;
    for (const link of [...this.links]) this.drop(link, true);
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private adopt(server: Server): void {
    this.server = server;
    server.on('connection', (client) => this.accept(client));
    server.on('error', () => {});
  }

  private accept(client: Socket): void {
    if (this.current === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    this.accepted += 1;
    const link = new Link(client);
    this.links.add(link);
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      link.toUpstream.push(chunk);
      this.flush(link);
    });
    client.on('end', () => {
      link.clientEnded = true;
      this.flush(link);
    });
    client.on('error', () => this.drop(link, true));
    client.on('close', () => {
      // A client gone while frozen still has its bytes delivered on pass (as the kernel would).
      if (this.current !== 'freeze' || link.toUpstream.length === 0) this.drop(link, false);
    });
    if (this.current === 'pass') this.connectUpstream(link);
  }

  private connectUpstream(link: Link): void {
    if (link.upstream || link.closed) return;
    const upstream = connect(this.target.port, this.target.host);
    link.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('connect', () => this.flush(link));
    upstream.on('data', (chunk: Buffer) => {
      link.toClient.push(chunk);
      this.flush(link);
    });
    upstream.on('end', () => {
      link.upstreamEnded = true;
      this.flush(link);
    });
    upstream.on('error', () => this.drop(link, true));
    upstream.on('close', () => this.drop(link, false));
  }

  /** Forwards what is queued, unless frozen. */
  private flush(link: Link): void {
    if (this.current !== 'pass' || link.closed) return;
    if (!link.upstream) {
      this.connectUpstream(link);
      return;
    }
    if (link.upstream.connecting) return;
    while (link.toUpstream.length > 0) link.upstream.write(link.toUpstream.shift()!);
    if (link.clientEnded) link.upstream.end();
    if (!link.client.destroyed) {
      while (link.toClient.length > 0) link.client.write(link.toClient.shift()!);
      if (link.upstreamEnded) link.client.end();
    }
    if (link.client.destroyed && link.toUpstream.length === 0) link.upstream.end();
  }

  private drop(link: Link, reset: boolean): void {
    if (link.closed) return;
    link.closed = true;
    this.links.delete(link);
    for (const socket of [link.client, link.upstream]) {
      if (!socket || socket.destroyed) continue;
      if (reset) socket.resetAndDestroy();
      else socket.destroy();
    }
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A fault proxy in front of the MySQL/MariaDB server at `url`, and the same URL going through it. */
export async function behindProxy(url: string): Promise<{ proxy: FaultProxy; proxied: URL }> {
  const direct = new URL(url);
  const proxy = await FaultProxy.start({ host: direct.hostname, port: Number(direct.port || 3306) });
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  return { proxy, proxied };
}
