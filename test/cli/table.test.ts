import { expect } from 'chai';
import { table, visible } from '../../src/cli/table.js';

describe('CLI: table (src/cli/table.ts)', () => {
  it('aligns columns under the header, two spaces apart, without trailing blanks', () => {
    expect(table(['ID', 'NAME', 'STATUS'], [['agt_1', 'a', 'active'], ['agt_22', 'longer name', 'revoked']])).to.deep.equal([
      'ID      NAME         STATUS',
      'agt_1   a            active',
      'agt_22  longer name  revoked',
    ]);
    expect(table(['A', 'B'], [['x', '']])).to.deep.equal(['A  B', 'x']);
  });

  it('keeps each row on one line: control characters are escaped', () => {
    expect(visible('a\nb\tc\u001b[31md\u007f\u0085')).to.equal('a\\nb\\tc\\u001b[31md\\u007f\\u0085');
    expect(table(['NAME'], [['two\nlines']])).to.deep.equal(['NAME', 'two\\nlines']);
    expect(visible('plain – ünïcode')).to.equal('plain – ünïcode');
  });
});
