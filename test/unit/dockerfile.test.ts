import { expect } from 'chai';
import { parseDockerfile } from '../../src/build/dockerfile.js';

describe('reading a Dockerfile', () => {
  it('a single FROM names the one base image that must be local', () => {
    expect(parseDockerfile('FROM pier/stack:bookworm\nCMD ["true"]\n').baseImages).to.deep.equal(['pier/stack:bookworm']);
  });

  it('later stages built FROM an earlier stage name only the external images', () => {
    const facts = parseDockerfile('FROM pier/stack:bookworm AS build\nRUN make\nFROM build\nFROM scratch\nCOPY --from=build /a /a\n');
    expect(facts.baseImages).to.deep.equal(['pier/stack:bookworm']);
  });

  it('a stage named like its own base image still needs that image', () => {
    expect(parseDockerfile('FROM base AS base\nFROM base\n').baseImages).to.deep.equal(['base']);
  });

  it('FROM flags are skipped and ARGs before the first FROM are substituted, build args winning', () => {
    const text = 'ARG TAG=bookworm\nARG REPO\nFROM --platform=linux/amd64 ${REPO:-pier/stack}:$TAG\n';
    expect(parseDockerfile(text).baseImages).to.deep.equal(['pier/stack:bookworm']);
    expect(parseDockerfile(text, { TAG: 'trixie' }).baseImages).to.deep.equal(['pier/stack:trixie']);
  });

  it('the first EXPOSE of the final stage is the port, with continuation lines and comments skipped', () => {
    const text = 'FROM a AS one\nEXPOSE 9000\nFROM b\n# EXPOSE 1\nRUN echo \\\n  hi\nexpose 8080/tcp 8443\nEXPOSE 7000\n';
    expect(parseDockerfile(text).exposedPort).to.equal(8080);
  });

  it('a final stage without EXPOSE has no port of its own', () => {
    expect(parseDockerfile('FROM a\nEXPOSE 9000\nFROM b\n').exposedPort).to.equal(undefined);
  });
});
