import { expect } from 'chai';
import { chooseDeployRef, parseRefUpdates, type RefUpdate } from '../../src/git/push-protocol.js';

const ZERO = '0'.repeat(40);
const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);

const update = (ref: string, newRev = NEW, oldRev = OLD): RefUpdate => ({ oldRev, newRev, ref });

/** The refusal message, failing the test if the push was accepted. */
function refusal(updates: RefUpdate[]): string {
  const choice = chooseDeployRef(updates);
  if (!('refuse' in choice)) throw new Error(`expected a refusal, got deploy of ${choice.deploy.ref}`);
  return choice.refuse;
}

describe('push protocol', () => {
  describe('parseRefUpdates', () => {
    it('one "old new ref" line from git becomes one ref update', () => {
      expect(parseRefUpdates(`${OLD} ${NEW} refs/heads/main\n`)).to.deep.equal([update('refs/heads/main')]);
    });

    it('several lines become several updates in push order', () => {
      const stdin = `${OLD} ${NEW} refs/heads/main\n${ZERO} ${NEW} refs/tags/v1\n`;
      expect(parseRefUpdates(stdin)).to.deep.equal([update('refs/heads/main'), update('refs/tags/v1', NEW, ZERO)]);
    });

    it('blank lines, surrounding whitespace and tabs are tolerated', () => {
      const stdin = `\n  ${OLD}\t${NEW}  refs/heads/master  \n\n`;
      expect(parseRefUpdates(stdin)).to.deep.equal([update('refs/heads/master')]);
    });

    it('empty input gives no updates', () => {
      expect(parseRefUpdates('')).to.deep.equal([]);
      expect(parseRefUpdates('\n\n')).to.deep.equal([]);
    });
  });

  describe('chooseDeployRef', () => {
    it('a push to main deploys main', () => {
      expect(chooseDeployRef([update('refs/heads/main')])).to.deep.equal({ deploy: update('refs/heads/main') });
    });

    it('a push to master deploys master', () => {
      expect(chooseDeployRef([update('refs/heads/master')])).to.deep.equal({ deploy: update('refs/heads/master') });
    });

    it('the first push of a new app (old rev all zeros) deploys', () => {
      expect(chooseDeployRef([update('refs/heads/main', NEW, ZERO)])).to.deep.equal({ deploy: update('refs/heads/main', NEW, ZERO) });
    });

    it('a push to another branch is refused with a message naming main and master and the command to use', () => {
      const message = refusal([update('refs/heads/feature')]);
      expect(message).to.include('refs/heads/feature does not deploy');
      expect(message).to.include('only the main and master branches deploy');
      expect(message).to.include('git push pier HEAD:main');
    });

    it('a push of a tag is refused', () => {
      expect(refusal([update('refs/tags/v1.0.0', NEW, ZERO)])).to.include('Pushing refs/tags/v1.0.0 does not deploy');
    });

    it('a push of main together with another branch is refused as a whole, naming the other branch', () => {
      expect(refusal([update('refs/heads/main'), update('refs/heads/wip')])).to.include('refs/heads/wip does not deploy');
    });

    it('a branch named like main in another namespace is refused', () => {
      expect(refusal([update('refs/heads/feature/main')])).to.include('refs/heads/feature/main does not deploy');
      expect(refusal([update('refs/remotes/origin/main')])).to.include('does not deploy');
    });

    it('deleting main is refused, pointing at apps:destroy', () => {
      const message = refusal([update('refs/heads/main', ZERO)]);
      expect(message).to.include('Deleting refs/heads/main is not supported');
      expect(message).to.include('pier apps:destroy');
    });

    it('deleting master is refused', () => {
      expect(refusal([update('refs/heads/master', ZERO)])).to.include('Deleting refs/heads/master is not supported');
    });

    it('a push with no ref updates is refused as having nothing to deploy', () => {
      expect(refusal([])).to.equal('Nothing to deploy in this push.');
    });
  });
});
