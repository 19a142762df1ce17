import { expect } from 'chai';
import { selectBuilder } from '../../src/build/builder-selector.js';
import { DETECT_ORDER, parseBuildpackRef, parseBuildpacksFile } from '../../src/build/buildpack-source.js';

describe('choosing the builder', () => {
  const none = { hasDockerfile: false, hasBuildpacksFile: false };

  it('an explicit builder:set wins over everything the app holds', () => {
    expect(selectBuilder({ ...none, selected: 'buildpacks', hasDockerfile: true }).builder).to.equal('buildpacks');
    expect(selectBuilder({ ...none, selected: 'dockerfile' }).builder).to.equal('dockerfile');
  });

  it('buildpacks the app names win over its Dockerfile, as on Dokku', () => {
    expect(selectBuilder({ ...none, hasDockerfile: true, buildpackUrl: 'file:///bp' })).to.deep.equal({ builder: 'buildpacks', reason: 'BUILDPACK_URL is set' });
    expect(selectBuilder({ ...none, hasDockerfile: true, hasBuildpacksFile: true }).builder).to.equal('buildpacks');
  });

  it('a root Dockerfile picks the Dockerfile builder, and nothing picks buildpacks', () => {
    expect(selectBuilder({ ...none, hasDockerfile: true })).to.deep.equal({ builder: 'dockerfile', reason: 'Dockerfile at the root' });
    expect(selectBuilder(none).builder).to.equal('buildpacks');
  });
});

describe('naming buildpacks', () => {
  const builtins = DETECT_ORDER;

  it('built-in names are accepted bare or with a heroku/ prefix', () => {
    expect(parseBuildpackRef('nodejs', builtins)).to.deep.equal({ builtin: 'nodejs' });
    expect(parseBuildpackRef('heroku/python', builtins)).to.deep.equal({ builtin: 'python' });
  });

  it('a git URL may be pinned with #ref', () => {
    expect(parseBuildpackRef('https://example.invalid/bp.git#v1.2', builtins)).to.deep.equal({ url: 'https://example.invalid/bp.git', ref: 'v1.2' });
    expect(parseBuildpackRef('file:///srv/bp', builtins)).to.deep.equal({ url: 'file:///srv/bp' });
    expect(parseBuildpackRef('git@example.invalid:me/bp.git', builtins)).to.deep.equal({ url: 'git@example.invalid:me/bp.git' });
  });

  it('anything else is refused, listing the built-in ones', () => {
    expect(() => parseBuildpackRef('rubyy', builtins)).to.throw('"rubyy" is not a buildpack: use a built-in one (nodejs, python, static, procfile) or a git URL');
  });

  it('a .buildpacks file lists one per line, skipping blanks and comments', () => {
    expect(parseBuildpacksFile('# first the runtime\nnodejs\n\n  file:///bp#main  \n', builtins)).to.deep.equal([
      { builtin: 'nodejs' },
      { url: 'file:///bp', ref: 'main' },
    ]);
  });
});
