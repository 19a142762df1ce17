/**
 * Where a message body ends, tracked as its bytes pass through unchanged: a Content-Length countdown,
 * or the chunked coding parsed strictly (RFC 9112 §7.1) up to its last chunk and trailer section.
 */

export interface BodyTracker {
  /**
   * Consumes body bytes of `buf` from `start`. Returns the index just past the last body byte in `buf`
   * (the body is over when `done`; bytes from there on are the next message), or -1 when the framing
   * is invalid; nothing of `buf` should then be forwarded.
   */
  feed(buf: Buffer, start: number): number;
  readonly done: boolean;
}

export class NoBody implements BodyTracker {
  readonly done = true;
  feed(_buf: Buffer, start: number): number {
    return start;
  }
}

export const NO_BODY: BodyTracker = new NoBody();

export class LengthBody implements BodyTracker {
  constructor(private remaining: number) {}

  get done(): boolean {
    return this.remaining === 0;
  }

  feed(buf: Buffer, start: number): number {
    const n = Math.min(this.remaining, buf.length - start);
    this.remaining -= n;
    return start + n;
  }
}

/** A response that ends when the upstream closes its connection. */
export class UntilCloseBody implements BodyTracker {
  readonly done = false;
  feed(buf: Buffer): number {
    return buf.length;
  }
}

const enum S {
  SizeFirst,
  Size,
  SizeBws,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  EndLf,
  Done,
}

/** Hex digits of a chunk size: 15 of them exceed no JavaScript integer precision. */
const MAX_SIZE_DIGITS = 15;
/** Chunk extensions and trailer fields, per chunk header and per message: enough for any real use. */
const MAX_META_BYTES = 16 * 1024;

const hexValue = (b: number): number =>
  b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1;

/** Field-value bytes: visible characters, obs-text, SP and HTAB; never CR, LF or other controls. */
const isTextByte = (b: number): boolean => b === 0x09 || (b >= 0x20 && b !== 0x7f);

export class ChunkedBody implements BodyTracker {
  private state = S.SizeFirst;
  private size = 0;
  private digits = 0;
  private remaining = 0;
  private meta = 0;
  /** Chunk data so far (the decoded body's size), for max-body-size. */
  dataBytes = 0;

  get done(): boolean {
    return this.state === S.Done;
  }

  feed(buf: Buffer, start: number): number {
    let i = start;
    const end = buf.length;
    while (i < end) {
      if (this.state === S.Data) {
        const n = Math.min(this.remaining, end - i);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.state = S.DataCr;
        continue;
      }
      const b = buf[i++]!;
      switch (this.state) {
        case S.SizeFirst:
        case S.Size: {
          const h = hexValue(b);
          if (h !== -1) {
            if (++this.digits > MAX_SIZE_DIGITS) return -1;
            this.size = this.size * 16 + h;
            this.state = S.Size;
          } else if (this.state === S.SizeFirst) {
            return -1;
          } else if (b === 0x0d) {
            this.state = S.SizeLf;
          } else if (b === 0x3b) {
            this.state = S.Ext;
          } else if (b === 0x20 || b === 0x09) {
            this.state = S.SizeBws;
          } else {
            return -1;
          }
          break;
        }
        case S.SizeBws:
          // Whitespace after a size is only allowed before an extension (BWS ";").
          if (b === 0x3b) this.state = S.Ext;
          else if (b !== 0x20 && b !== 0x09) return -1;
          break;
        case S.Ext:
          if (b === 0x0d) this.state = S.SizeLf;
          else if (!isTextByte(b) || ++this.meta > MAX_META_BYTES) return -1;
          break;
        case S.SizeLf:
          if (b !== 0x0a) return -1;
          if (this.size === 0) {
            this.state = S.TrailerStart;
          } else {
            this.remaining = this.size;
            this.dataBytes += this.size;
            this.state = S.Data;
          }
          this.size = 0;
          this.digits = 0;
          this.meta = 0;
          break;
        case S.DataCr:
          if (b !== 0x0d) return -1;
          this.state = S.DataLf;
          break;
        case S.DataLf:
          if (b !== 0x0a) return -1;
          this.state = S.SizeFirst;
          break;
        case S.TrailerStart:
          if (b === 0x0d) this.state = S.EndLf;
          else if (b === 0x20 || b === 0x09 || b === 0x3a || !isTextByte(b)) return -1;
          else this.state = S.Trailer;
          break;
        case S.Trailer:
          if (b === 0x0d) this.state = S.TrailerLf;
          else if (!isTextByte(b) || ++this.meta > MAX_META_BYTES) return -1;
          break;
        case S.TrailerLf:
          if (b !== 0x0a) return -1;
          this.state = S.TrailerStart;
          break;
        case S.EndLf:
          if (b !== 0x0a) return -1;
          this.state = S.Done;
          return i;
        default:
          return -1;
      }
    }
    return i;
  }
}
