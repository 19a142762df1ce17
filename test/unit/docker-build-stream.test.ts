import { expect } from 'chai';
import { DockerBuildStream } from '../../src/build/docker-build-stream.js';

function parse(chunks: string[]) {
  const lines: string[] = [];
  const stream = new DockerBuildStream((l) => lines.push(l));
  for (const c of chunks) stream.push(c);
  stream.end();
  return { lines, stream };
}

describe("reading Docker's build stream", () => {
  it('passes stream text on line by line, however the JSON messages are split', () => {
    const json = '{"stream":"Step 1/2 : FROM x\\n"}\n{"stream":" ---\\u003e abc\\n"}\n{"stream":"partial "}\n{"stream":"line\\n"}\n';
    const { lines, stream } = parse([json.slice(0, 17), json.slice(17, 50), json.slice(50)]);
    expect(lines).to.deep.equal(['Step 1/2 : FROM x', ' ---> abc', 'partial line']);
    expect(stream.error).to.equal(undefined);
  });

  it('a build that failed is known from its error message, although the API call succeeded', () => {
    const { stream, lines } = parse([
      '{"stream":"Step 2/2 : RUN exit 3\\n"}\r\n',
      '{"errorDetail":{"code":3,"message":"The command \'/bin/sh -c exit 3\' returned a non-zero code: 3"},"error":"The command \'/bin/sh -c exit 3\' returned a non-zero code: 3"}\r\n',
    ]);
    expect(stream.error).to.equal("The command '/bin/sh -c exit 3' returned a non-zero code: 3");
    expect(lines).to.deep.equal(['Step 2/2 : RUN exit 3']);
  });

  it('records the built image id and shows pull status lines but not progress bars', () => {
    const { stream, lines } = parse([
      '{"status":"Pulling fs layer","progressDetail":{},"id":"a1"}\n',
      '{"status":"Downloading","progress":"[==>   ]","id":"a1"}\n',
      '{"aux":{"ID":"sha256:0123"}}\n',
    ]);
    expect(stream.imageId).to.equal('sha256:0123');
    expect(lines).to.deep.equal(['Pulling fs layer']);
  });

  it('text that is not JSON is passed on as it is, and a last line without a newline is kept', () => {
    const { lines } = parse(['oops not json\n{"stream":"tail"}']);
    expect(lines).to.deep.equal(['oops not json', 'tail']);
  });
});
