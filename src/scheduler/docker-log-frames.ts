/**
 * Splits Docker's multiplexed (non-TTY) log/attach payload into text. Each frame is an
 * 8-byte header (stream type, 3 zero bytes, big-endian length) followed by the payload.
 */
export function demuxDockerFrames(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const size = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Feeds chunks of text and emits whole lines, keeping a partial last line until it completes. */
export class LineSplitter {
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.pending + chunk;
    const lines = text.split(/\r?\n/);
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }

  flush(): void {
    if (this.pending !== '') this.onLine(this.pending);
    this.pending = '';
  }
}
