import { expect } from 'chai';
import { configChange } from '../../src/release/release-service.js';

describe('the config change a rollback tells plugins about', () => {
  it('sets the keys that are new or hold another value, and unsets the keys that are gone', () => {
    const change = configChange({ KEEP: '1', CHANGED: 'old', GONE: 'x' }, { KEEP: '1', CHANGED: 'new', ADDED: 'y' });
    expect(change).to.deep.equal({ set: ['ADDED', 'CHANGED'], unset: ['GONE'] });
  });

  it('is empty when the config stays the same, so no event is sent', () => {
    expect(configChange({ A: '1' }, { A: '1' })).to.deep.equal({ set: [], unset: [] });
  });
});
