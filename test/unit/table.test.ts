import { expect } from 'chai';
import { formatTable } from '../../src/cli/table.js';

describe('CLI tables', () => {
  it('columns are left-aligned to the widest cell and separated by two spaces', () => {
    const out = formatTable(
      ['NAME', 'RELEASE', 'URL'],
      [
        ['api', 'v12', 'http://api.localhost'],
        ['frontend-web', 'v3', 'http://frontend-web.localhost'],
      ],
    );
    expect(out.split('\n')).to.deep.equal([
      'NAME          RELEASE  URL',
      'api           v12      http://api.localhost',
      'frontend-web  v3       http://frontend-web.localhost',
    ]);
  });

  it('a header wider than every cell sets the column width', () => {
    expect(formatTable(['VERSION', 'BY'], [['v1', 'admin']])).to.equal('VERSION  BY\nv1       admin');
  });

  it('lines carry no trailing spaces, even when the last cell is empty', () => {
    const out = formatTable(['NAME', 'COMMIT'], [['web', ''], ['worker', 'abc1234']]);
    for (const line of out.split('\n')) expect(line).to.equal(line.trimEnd());
    expect(out).to.equal('NAME    COMMIT\nweb\nworker  abc1234');
  });

  it('a row with missing cells is padded as if they were empty', () => {
    expect(formatTable(['A', 'B', 'C'], [['x']])).to.equal('A  B  C\nx');
  });

  it('a table without rows is just its header', () => {
    expect(formatTable(['NAME', 'URL'], [])).to.equal('NAME  URL');
  });
});
