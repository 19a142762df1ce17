import { expect } from 'chai';
import { dockerSince, parseDockerLine } from '../../src/scheduler/docker-logs.js';
import { formatLogLine, latestLines, mergeSorted, normalizeTime, sourceType, type LogLine } from '../../src/scheduler/log-lines.js';

/** A line at second `s` (and `ns` nanoseconds) of one test minute. */
function at(s: number, source: string, line: string, ns = 0): LogLine {
  return { time: `2026-12-01T07:00:${String(s).padStart(2, '0')}.${String(ns).padStart(9, '0')}Z`, source, line };
}

describe('log lines', () => {
  describe('normalizeTime', () => {
    it("Docker's nanosecond times are kept as they are", () => {
      expect(normalizeTime('2026-12-01T07:00:00.123456789Z')).to.equal('2026-12-01T07:00:00.123456789Z');
    });

    it("Pier's millisecond event times get nine fraction digits, so they sort among Docker's", () => {
      expect(normalizeTime('2026-12-01T07:00:00.123Z')).to.equal('2026-12-01T07:00:00.123000000Z');
    });

    it('a time whose trailing zeros were dropped, or that has no fraction, is padded', () => {
      expect(normalizeTime('2026-12-01T07:00:00.1Z')).to.equal('2026-12-01T07:00:00.100000000Z');
      expect(normalizeTime('2026-12-01T07:00:00Z')).to.equal('2026-12-01T07:00:00.000000000Z');
    });

    it('a time with an offset is converted to UTC', () => {
      expect(normalizeTime('2026-12-01T09:00:00.5+02:00')).to.equal('2026-12-01T07:00:00.500000000Z');
    });

    it('text that is not an RFC 3339 time is refused', () => {
      for (const text of ['hello', '2026', '', '2026-12-01 07:00:00Z']) expect(normalizeTime(text), text).to.equal(undefined);
    });
  });

  describe('parseDockerLine', () => {
    it('splits the timestamp prefix off the text, which keeps its own spaces', () => {
      expect(parseDockerLine('2026-12-01T07:00:00.123456789Z GET /  200')).to.deep.equal({ time: '2026-12-01T07:00:00.123456789Z', line: 'GET /  200' });
    });

    it('an empty line of output keeps its time', () => {
      expect(parseDockerLine('2026-12-01T07:00:00.123456789Z ')).to.deep.equal({ time: '2026-12-01T07:00:00.123456789Z', line: '' });
      expect(parseDockerLine('2026-12-01T07:00:00.123456789Z')).to.deep.equal({ time: '2026-12-01T07:00:00.123456789Z', line: '' });
    });

    it('a line without a timestamp (the empty rest after the last newline) is no line', () => {
      expect(parseDockerLine('')).to.equal(undefined);
      expect(parseDockerLine('listening on 5000')).to.equal(undefined);
    });
  });

  it("dockerSince gives Docker's seconds.nanoseconds form of a time", () => {
    expect(dockerSince('2026-12-01T07:00:00.000000042Z')).to.equal(`${Date.UTC(2026, 11, 1, 7) / 1000}.000000042`);
  });

  describe('mergeSorted', () => {
    it('interleaves streams that are each in time order into one in time order', () => {
      const web1 = [at(1, 'web.1', 'a'), at(4, 'web.1', 'd')];
      const web2 = [at(2, 'web.2', 'b'), at(5, 'web.2', 'e')];
      const pier = [at(3, 'pier', 'c')];
      expect(mergeSorted([web1, web2, pier]).map((l) => l.line)).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    });

    it('orders by nanoseconds too', () => {
      expect(mergeSorted([[at(1, 'web.1', 'later', 2)], [at(1, 'web.2', 'earlier', 1)]]).map((l) => l.line)).to.deep.equal(['earlier', 'later']);
    });

    it('is stable on equal times: the earlier stream first, each stream in its own order', () => {
      const first = [at(1, 'web.1', 'a1'), at(1, 'web.1', 'a2')];
      const second = [at(1, 'web.2', 'b1'), at(1, 'web.2', 'b2')];
      expect(mergeSorted([first, second]).map((l) => l.line)).to.deep.equal(['a1', 'a2', 'b1', 'b2']);
    });

    it('empty streams, or none, merge to what the others hold', () => {
      expect(mergeSorted([])).to.deep.equal([]);
      expect(mergeSorted([[], [at(1, 'web.1', 'only')], []]).map((l) => l.line)).to.deep.equal(['only']);
    });
  });

  it('latestLines applies the count after the merge: the newest lines overall, whichever source wrote them', () => {
    const web1 = [at(1, 'web.1', 'w1'), at(2, 'web.1', 'w2'), at(3, 'web.1', 'w3')];
    const pier = [at(4, 'pier', 'p4'), at(5, 'pier', 'p5'), at(6, 'pier', 'p6')];
    expect(latestLines([web1, pier], 3).map((l) => l.line)).to.deep.equal(['p4', 'p5', 'p6']);
    expect(latestLines([web1, pier], 4).map((l) => l.line)).to.deep.equal(['w3', 'p4', 'p5', 'p6']);
    expect(latestLines([web1, pier], 100)).to.have.length(6);
  });

  describe('formatLogLine', () => {
    it("prints instance output as Heroku does: microseconds, +00:00 and app[type.N]", () => {
      expect(formatLogLine(at(1, 'web.1', 'GET / 200', 123456789))).to.equal('2026-12-01T07:00:01.123456+00:00 app[web.1]: GET / 200');
    });

    it("prints Pier's deploy events as pier[deploy] and other event sources as pier[source]", () => {
      expect(formatLogLine(at(2, 'pier', 'Releasing v1'))).to.equal('2026-12-01T07:00:02.000000+00:00 pier[deploy]: Releasing v1');
      expect(formatLogLine(at(3, 'router', 'GET / 200 3ms'))).to.equal('2026-12-01T07:00:03.000000+00:00 pier[router]: GET / 200 3ms');
    });
  });

  it('sourceType is the process type of container output and the source itself for events', () => {
    expect(sourceType('web.1')).to.equal('web');
    expect(sourceType('run.1')).to.equal('run');
    expect(sourceType('clock-tick_2.10')).to.equal('clock-tick_2');
    expect(sourceType('pier')).to.equal('pier');
    expect(sourceType('router')).to.equal('router');
  });
});
