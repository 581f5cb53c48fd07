import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp } from '../support/app.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** HTTPS GET trusting exactly the given certificate. */
function httpsGet(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A throwaway self-signed certificate for 127.0.0.1 and localhost. */
function selfSignedCertificate(dir: string): { cert: string; key: string } | undefined {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const result = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return result.status === 0 ? { cert, key } : undefined;
}

describe('native TLS (TLS_CERT / TLS_KEY)', function () {
  this.timeout(30_000);
  let dir: string;
  let files: { cert: string; key: string } | undefined;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'keyport-tls-'));
    files = selfSignedCertificate(dir);
    if (!files) {
      console.log('    (skipped: openssl is not available to make a test certificate)');
      this.skip();
    }
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  it('serves HTTPS with the given certificate, which REQUIRE_HTTPS accepts', async () => {
    const app = await startTestApp({ env: { TLS_CERT: files!.cert, TLS_KEY: files!.key, REQUIRE_HTTPS: 'true' } });
    try {
      expect(app.url).to.match(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(files!.cert);
      const health = await httpsGet(`${app.url}/healthz`, ca);
      expect(health.status).to.equal(200);
      expect(health.headers['strict-transport-security']).to.equal('max-age=63072000; includeSubDomains');
      // Past HTTPS enforcement: an unknown route is a 404, not a 403 insecure_connection.
      const unknown = await httpsGet(`${app.url}/auth/nothing-here`, ca);
      expect(unknown.status).to.equal(404);
      expect(unknown.body).to.have.nested.property('error.code', 'not_found');
      expect(unknown.headers['x-content-type-options']).to.equal('nosniff');
    } finally {
      await app.close();
    }
  });

  it('refuses a client that does not trust the certificate (it is really TLS, with this certificate)', async () => {
    const app = await startTestApp({ env: { TLS_CERT: files!.cert, TLS_KEY: files!.key, REQUIRE_HTTPS: 'true' } });
    try {
      const other = selfSignedCertificate(mkdtempSync(join(dir, 'other-')));
      let failure: unknown;
      try {
        await httpsGet(`${app.url}/healthz`, readFileSync(other!.cert));
      } catch (err) {
        failure = err;
      }
      expect(failure).to.be.instanceOf(Error);
      expect((failure as NodeJS.ErrnoException).code).to.match(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    } finally {
      await app.close();
    }
  });
});
