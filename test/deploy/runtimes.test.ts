import { expect } from 'chai';
import { readRepoFile, readDockerfile } from './support.js';

/** `^20.19.0 || ^22.13.0` → [{ major: 20, minor: 19, patch: 0 }, …]: the only range shape engines uses here. */
function caretRanges(range: string): Array<{ major: number; minor: number; patch: number }> {
  return range.split('||').map((part) => {
    const match = /^\s*\^(\d+)\.(\d+)\.(\d+)\s*$/.exec(part);
    expect(match, `"${part.trim()}" is a ^major.minor.patch range`).to.not.equal(null);
    return { major: Number(match![1]), minor: Number(match![2]), patch: Number(match![3]) };
  });
}

function satisfies(version: string, range: string): boolean {
  const [major, minor, patch] = version.replace(/^v/, '').split('.').map(Number) as [number, number, number];
  return caretRanges(range).some((line) => line.major === major && (minor > line.minor || (minor === line.minor && patch >= line.patch)));
}

async function manifest(path: string): Promise<{ engines: { node: string }; dependencies?: Record<string, string> }> {
  return JSON.parse(await readRepoFile(path));
}

/**
 * The supported runtimes (docs/runtimes.md): Node 22 and 24 LTS, and 20.19+ while it still works.
 * CI runs the suite on the machine's Node and on Node 24 (.ci/run); each run checks that it is on
 * a declared line and that the declarations agree with each other and with the native modules.
 */
describe('deploy: supported Node.js runtimes', () => {
  it('runs on a Node line package.json declares', async () => {
    const { engines } = await manifest('package.json');
    expect(caretRanges(engines.node).map((line) => line.major)).to.deep.equal([20, 22, 24]);
    expect(satisfies(process.version, engines.node), `${process.version} within ${engines.node}`).to.equal(true);
  });

  it('declares the same lines for the resource-server kit, the Docker base image and the README', async () => {
    const { engines } = await manifest('package.json');
    expect((await manifest('packages/verify/package.json')).engines.node).to.equal(engines.node);
    const dockerfile = await readDockerfile();
    for (const stage of dockerfile.stages) {
      const major = Number(/^node:(\d+)/.exec(stage.from)?.[1]);
      expect(caretRanges(engines.node).map((line) => line.major), stage.from).to.include(major);
    }
    const readme = await readRepoFile('README.md');
    expect(readme).to.include('Node.js 22 or 24 LTS');
    expect(await readRepoFile('.ci/run')).to.match(/NODE24_VERSION=24\.\d+\.\d+\n/);
  });

  it('depends on native-module majors that support every declared line', async () => {
    const { engines } = await manifest('package.json');
    const majors = caretRanges(engines.node).map((line) => line.major);
    // better-sqlite3 13 needs Node 22; 12 supports 20 to 26 ("20.x || 22.x || …").
    const sqlite = await manifest('node_modules/better-sqlite3/package.json');
    for (const major of majors) expect(sqlite.engines.node.split('||').map((part) => part.trim()), `better-sqlite3 on Node ${major}`).to.include(`${major}.x`);
    // bcrypt 6 loads N-API prebuilds: one binary for every Node from 18 on.
    expect((await manifest('node_modules/bcrypt/package.json')).engines.node).to.match(/^>= ?18$/);
  });
});
