import { expect } from 'chai';
import { aliasVariable } from '../../src/plugins/service-plugin.js';

describe('add-on service alias variables', () => {
  it('a second link gets <STEM>_<COLOUR>_URL, the same colour for the same name every time', () => {
    const first = aliasVariable('DATABASE', 'holddb');
    expect(first).to.match(/^DATABASE_[A-Z]+_URL$/);
    expect(aliasVariable('DATABASE', 'holddb')).to.equal(first);
    expect(aliasVariable('REDIS', 'holddb')).to.equal(first.replace('DATABASE', 'REDIS'));
  });

  it('different names spread over the colours', () => {
    const colours = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n) => aliasVariable('DATABASE', n)));
    expect(colours.size).to.be.greaterThan(2);
  });
});
