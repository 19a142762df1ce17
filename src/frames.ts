/** A frame whose declared length is over the decoder's limit: the peer is not speaking the protocol. */
export class FrameError extends Error {}

export interface Frame {
  type: number;
  payload: Buffer;
}

/**
 * Reassembles length-prefixed frames from a byte stream cut anywhere. A header of `headerSize`
 * bytes starts with the frame's type byte and ends with its payload length (u32, big-endian).
 * Docker's attach stream uses 8-byte headers, `pier run`'s own protocol 5-byte ones.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly headerSize: number, private readonly maxPayload = 0xffffffff) {}

  /** The frames completed by `chunk`, in order; a partial frame waits for the next chunks. */
  push(chunk: Buffer): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.size >= this.headerSize) {
      const length = this.front(this.headerSize).readUInt32BE(this.headerSize - 4);
      if (length > this.maxPayload) throw new FrameError(`a frame of ${length} bytes is over the limit of ${this.maxPayload}`);
      if (this.size < this.headerSize + length) break;
      const frame = this.take(this.headerSize + length);
      frames.push({ type: frame[0]!, payload: frame.subarray(this.headerSize) });
    }
    return frames;
  }

  /** At least the first `n` buffered bytes, joined only when they span chunks. */
  private front(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const head = this.front(n);
    this.chunks = head.length > n ? [head.subarray(n), ...this.chunks.slice(1)] : this.chunks.slice(1);
    this.size -= n;
    return head.subarray(0, n);
  }
}
