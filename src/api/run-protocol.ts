import { Transform } from 'node:stream';
import { z } from 'zod';
import { FrameDecoder, FrameError } from '../frames.js';
import { commandArgsSchema } from '../plugins/protocol.js';
import { configKeySchema, configValueSchema } from '../validation.js';

/**
 * `pier run` talks over an HTTP Upgrade (`Upgrade: pier-run`, as Docker's attach does): the request
 * body is a RunRequest, then both sides exchange frames `[type:u8][length:u32be][payload]`.
 * Client to server: stdin, stdin-end, resize. Server to client: stdout, stderr (never in TTY mode,
 * where the terminal carries both on stdout), then exactly one of exit or error, and the server closes.
 */
export const RUN_UPGRADE = 'pier-run';

export const runRequestSchema = z.object({
  /** argv: none runs a shell, one word is a shell line (as in a Procfile), more run as given. */
  command: z.array(z.string().max(128 * 1024)).max(4096),
  tty: z.boolean().default(false),
  cols: z.number().int().min(1).max(10_000).optional(),
  rows: z.number().int().min(1).max(10_000).optional(),
  /** Env of this run only, over the app's config (`pier run -e KEY=VALUE`). */
  env: z.record(configKeySchema, configValueSchema).default({}),
});
export type RunRequest = z.infer<typeof runRequestSchema>;
/** Whether the client is a terminal, and its size. */
export type Terminal = Pick<RunRequest, 'tty' | 'cols' | 'rows'>;

/** A plugin's stream command (postgres:connect NAME…) over the same upgrade: its arguments instead of a command line. */
export const streamCommandRequestSchema = runRequestSchema.pick({ tty: true, cols: true, rows: true }).extend({
  args: commandArgsSchema,
});

export const detachedRunSchema = z.object({
  command: runRequestSchema.shape.command.min(1, 'run:detached needs a command: there is no terminal for a shell'),
  env: runRequestSchema.shape.env,
});

const TYPES = ['stdin', 'stdout', 'stderr', 'resize', 'stdin-end', 'exit', 'error'] as const;
const HEADER = 5;
/** Larger chunks are cut into several frames, so a peer never has to buffer much to read one. */
export const MAX_PAYLOAD = 256 * 1024;

export type DataType = 'stdin' | 'stdout' | 'stderr';
export type RunFrame =
  | { type: DataType; data: Buffer }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'stdin-end' }
  | { type: 'exit'; code: number }
  | { type: 'error'; message: string };

export class RunProtocolError extends Error {}

function frame(type: RunFrame['type'], payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER);
  header.writeUInt8(TYPES.indexOf(type), 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** The bytes of one frame; data over MAX_PAYLOAD becomes several frames of its type. */
export function encodeFrame(f: RunFrame): Buffer {
  switch (f.type) {
    case 'stdin':
    case 'stdout':
    case 'stderr': {
      const parts: Buffer[] = [];
      for (let at = 0; at < f.data.length || at === 0; at += MAX_PAYLOAD) parts.push(frame(f.type, f.data.subarray(at, at + MAX_PAYLOAD)));
      return Buffer.concat(parts);
    }
    case 'resize': {
      const size = Buffer.alloc(4);
      size.writeUInt16BE(f.cols, 0);
      size.writeUInt16BE(f.rows, 2);
      return frame(f.type, size);
    }
    case 'stdin-end':
      return frame(f.type, Buffer.alloc(0));
    case 'exit': {
      const code = Buffer.alloc(4);
      code.writeInt32BE(f.code, 0);
      return frame(f.type, code);
    }
    case 'error':
      return frame(f.type, Buffer.from(f.message, 'utf8'));
  }
}

/** Decodes frames from a byte stream cut anywhere; a malformed frame throws RunProtocolError. */
export class RunFrameDecoder {
  private readonly frames = new FrameDecoder(HEADER, MAX_PAYLOAD);

  push(chunk: Buffer): RunFrame[] {
    let raw;
    try {
      raw = this.frames.push(chunk);
    } catch (err) {
      throw err instanceof FrameError ? new RunProtocolError(err.message) : err;
    }
    return raw.map(({ type: code, payload }) => {
      const type = TYPES[code];
      const sized = (n: number) => {
        if (payload.length !== n) throw new RunProtocolError(`a ${type} frame has ${payload.length} bytes instead of ${n}`);
      };
      switch (type) {
        case 'stdin':
        case 'stdout':
        case 'stderr':
          return { type, data: payload };
        case 'resize':
          sized(4);
          return { type, cols: payload.readUInt16BE(0), rows: payload.readUInt16BE(2) };
        case 'stdin-end':
          sized(0);
          return { type };
        case 'exit':
          sized(4);
          return { type, code: payload.readInt32BE(0) };
        case 'error':
          return { type, message: payload.toString('utf8') };
        default:
          throw new RunProtocolError(`unknown frame type ${code}`);
      }
    });
  }
}

/** Wraps every chunk of a byte stream into frames of one data type, keeping the stream's backpressure. */
export function frameEncoder(type: DataType): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      done(null, encodeFrame({ type, data: chunk }));
    },
  });
}
