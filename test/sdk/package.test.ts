import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { protectedResourceMetadataPath, protectedResourceMetadataUrl, createVerifier } from '@keyport/verify';
import { retryAfterSeconds } from '@keyport/verify/caller';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const kit = join(root, 'packages', 'verify');

/** The kit as a package of its own: what a downstream API installs, with nothing of the repo around it. */
describe('resource-server kit: the package', () => {
  it('imports on its own (only jose installed): every entry point, no web framework needed', async () => {
    const manifest = JSON.parse(await readFile(join(kit, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { types: string; default: string }>; files: string[]; dependencies: Record<string, string> };
    expect(manifest.name).to.equal('@keyport/verify');
    expect(Object.keys(manifest.dependencies)).to.deep.equal(['jose']);
    const dir = await mkdtemp(join(tmpdir(), 'keyport-verify-'));
    try {
      const installed = join(dir, 'node_modules', '@keyport', 'verify');
      await mkdir(installed, { recursive: true });
      await cp(join(kit, 'package.json'), join(installed, 'package.json'));
      for (const file of manifest.files.filter((entry) => entry !== 'README.md')) await cp(join(kit, file), join(installed, file), { recursive: true });
      await symlink(join(root, 'node_modules', 'jose'), join(dir, 'node_modules', 'jose'), 'dir');
      const entries = Object.keys(manifest.exports).map((entry) => entry.replace(/^\./, '@keyport/verify'));
      expect(entries).to.have.members(['@keyport/verify', '@keyport/verify/koa', '@keyport/verify/express', '@keyport/verify/fastify', '@keyport/verify/caller']);
      for (const target of Object.values(manifest.exports)) {
        await readFile(join(installed, target.types));
        await readFile(join(installed, target.default));
      }
      const script = entries.map((entry, i) => `const m${i} = await import('${entry}'); if (!Object.keys(m${i}).length) throw new Error('${entry} is empty');`).join('\n');
      await writeFile(join(dir, 'check.mjs'), `${script}\nconsole.log('ok');\n`);
      const { stdout } = await promisify(execFile)(process.execPath, ['check.mjs'], { cwd: dir });
      expect(stdout.trim()).to.equal('ok');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('places the RFC 9728 document per §3.1 (after the host, before the path)', () => {
    expect(protectedResourceMetadataPath('https://api.example.com')).to.equal('/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataPath('https://api.example.com/v1/')).to.equal('/.well-known/oauth-protected-resource/v1');
    expect(protectedResourceMetadataUrl('https://api.example.com:8443/v1')).to.equal('https://api.example.com:8443/.well-known/oauth-protected-resource/v1');
    const verifier = createVerifier({ issuer: 'https://keyport.example.com', resource: 'https://api.example.com/v1' });
    expect(verifier.metadataPath).to.equal('/.well-known/oauth-protected-resource/v1');
    expect(verifier.metadata()).to.deep.equal({ resource: 'https://api.example.com/v1', authorization_servers: ['https://keyport.example.com'], bearer_methods_supported: ['header'] });
  });

  it('reads Retry-After as seconds or an HTTP date, else error.retry_after', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterSeconds('7', null, now)).to.equal(7);
    expect(retryAfterSeconds('Thu, 01 Jan 2026 00:00:02 GMT', null, now)).to.equal(2);
    expect(retryAfterSeconds(null, { error: { code: 'rate_limit_exceeded', retry_after: 3 } }, now)).to.equal(3);
    expect(retryAfterSeconds(null, { error: { code: 'rate_limit_exceeded' }, retry_after: 4 }, now)).to.equal(4);
    expect(retryAfterSeconds('soon', { error: {} }, now)).to.equal(undefined);
  });
});
