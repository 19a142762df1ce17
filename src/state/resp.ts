/**
 * Just enough of Redis's protocol (RESP2) to pipeline write commands on a connection of their own:
 * commands encoded into one buffer, replies counted as they arrive. The router's access log writes
 * this way because ioredis's per-command objects, promises and copies cost it more CPU than the
 * lines themselves (see AccessLogWriter).
 */

const CRLF = '\r\n';

/** The commands as one RESP buffer, written with one syscall: string arguments as UTF-8, buffers as they are (not copied more than once). */
export function encodeCommands(commands: ReadonlyArray<ReadonlyArray<string | Buffer>>): Buffer {
  const chunks: Buffer[] = [];
  let text = '';
  for (const args of commands) {
    text += `*${args.length}${CRLF}`;
    for (const arg of args) {
      if (typeof arg === 'string') {
        text += `$${Buffer.byteLength(arg)}${CRLF}${arg}${CRLF}`;
        continue;
      }
      chunks.push(Buffer.from(`${text}$${arg.length}${CRLF}`), arg);
      text = CRLF;
    }
  }
  if (text) chunks.push(Buffer.from(text));
  return Buffer.concat(chunks);
}

/** What a reply said: undefined for success, the error's text for an error reply. */
export type Reply = string | undefined;

/**
 * Splits the bytes a connection receives into top-level replies. Only the shapes that write commands
 * answer with are read: simple strings, errors, integers and bulk strings; anything else (an array, a
 * RESP3 type) throws, since the connection can no longer tell where a reply ends.
 */
export class RespReplies {
  // Latin-1: one character per byte, so bulk lengths (in bytes) index the text directly.
  private unread = '';

  /** Feeds one chunk; calls `onReply` for each reply it completes, in order. */
  feed(chunk: Buffer, onReply: (reply: Reply) => void): void {
    const text = this.unread + chunk.toString('latin1');
    let at = 0;
    for (;;) {
      const eol = text.indexOf(CRLF, at);
      if (eol < 0) break;
      const type = text[at];
      if (type === '$') {
        const length = Number(text.slice(at + 1, eol));
        if (!Number.isInteger(length)) throw new Error(`Redis sent a malformed bulk length: ${JSON.stringify(text.slice(at, eol))}`);
        // $-1 is a null reply; otherwise the bulk and its CRLF must have arrived in full.
        const end = length < 0 ? eol + 2 : eol + 2 + length + 2;
        if (end > text.length) break;
        if (length >= 0 && !text.startsWith(CRLF, end - 2)) throw new Error('Redis sent a bulk string longer than its length');
        at = end;
        onReply(undefined);
      } else if (type === '+' || type === ':') {
        at = eol + 2;
        onReply(undefined);
      } else if (type === '-') {
        const error = Buffer.from(text.slice(at + 1, eol), 'latin1').toString('utf8');
        at = eol + 2;
        onReply(error);
      } else {
        throw new Error(`Redis sent a reply this connection never asks for (type ${JSON.stringify(type)})`);
      }
    }
    this.unread = text.slice(at);
  }
}
