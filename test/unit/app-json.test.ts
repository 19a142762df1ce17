import { expect } from 'chai';
import { parseAppJson, releaseCommand } from '../../src/app-json.js';
import { desiredFormation } from '../../src/state/formation-store.js';

describe('app.json', () => {
  it('an empty app.json has no checks, no scripts and no formation', () => {
    expect(parseAppJson('{}')).to.deep.equal({ healthchecks: {}, scripts: {}, formation: {} });
  });

  it("Dokku's health check format gets the documented defaults", () => {
    const parsed = parseAppJson(JSON.stringify({ healthchecks: { web: [{ path: '/health', content: 'ok' }] } }));
    expect(parsed.healthchecks.web).to.deep.equal([
      { type: 'startup', path: '/health', content: 'ok', uptime: 0, attempts: 5, timeout: 5, wait: 1, initialDelay: 0 },
    ]);
  });

  it('a bad field is named, with what to do', () => {
    expect(() => parseAppJson('{"healthchecks":{"web":[{"path":"health"}]}}')).to.throw('app.json: healthchecks.web.0.path: path must start with "/". Fix it and push again.');
    expect(() => parseAppJson('{"formation":{"worker":{"quantity":-1}}}')).to.throw(/app\.json: formation\.worker\.quantity/);
    expect(() => parseAppJson('{nope')).to.throw(/app\.json is not valid JSON/);
  });

  it("the release phase is the Procfile's release command, else the predeploy script", () => {
    const appJson = parseAppJson('{"scripts":{"dokku":{"predeploy":"migrate"}}}');
    expect(releaseCommand({ web: 'x', release: 'rake db:migrate' }, appJson)).to.equal('rake db:migrate');
    expect(releaseCommand({ web: 'x' }, appJson)).to.equal('migrate');
    expect(releaseCommand({ web: 'x' }, undefined)).to.equal(undefined);
  });
});

describe('the formation a release runs', () => {
  it('one web instance and no other process until scaled, as on Heroku; release is never a process', () => {
    expect(desiredFormation({ web: 'a', worker: 'b', release: 'c' }, {})).to.deep.equal({ web: 1, worker: 0 });
  });

  it('scaled counts win over app.json defaults, which win over the built-in ones', () => {
    expect(desiredFormation({ web: 'a', worker: 'b', clock: 'c' }, { web: 3 }, { worker: 2, web: 2 })).to.deep.equal({ web: 3, worker: 2, clock: 0 });
  });

  it('types scaled before but gone from the Procfile do not run', () => {
    expect(desiredFormation({ web: 'a' }, { worker: 4 })).to.deep.equal({ web: 1 });
  });
});
