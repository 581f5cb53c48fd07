import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_OPTIONS } from '../../src/server_node_options.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('foundation: the server process runs with the same Node options everywhere', () => {
  it('npm start passes them to dist/src/main.js', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).to.contain(`node ${SERVER_NODE_OPTIONS.join(' ')} dist/src/main.js`);
  });

  it("the Dockerfile's CMD passes them to dist/src/main.js", () => {
    const cmd = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').split('\n').find((line) => line.startsWith('CMD '));
    expect(cmd).to.equal(`CMD ${JSON.stringify(['node', ...SERVER_NODE_OPTIONS, 'dist/src/main.js']).replace(/","/g, '", "')}`);
  });
});
