import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../../log.js';

const NEWLINE = 0x0a;
const TAB = 0x09;

/** One app's access log record as nginx wrote it: "<ISO time> <JSON line>\n", UTF-8; valid only during the call. */
export type RecordAccessLine = (app: string, record: Buffer) => void;

/**
 * Pure: the complete lines at the start of `chunk`, each "APP<TAB><ISO time> <JSON line>\n" (the nginx-proxy
 * template's log format), given to `record` as the app and the rest of the line, newline included. Returns the
 * bytes they take: a line nginx is still writing stays for the next read. A line without an app (a server
 * that sets none) is skipped.
 */
export function splitAccessLines(chunk: Buffer, record: RecordAccessLine): number {
  let start = 0;
  for (let end = chunk.indexOf(NEWLINE, start); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
    const tab = chunk.indexOf(TAB, start);
    if (tab > start && tab < end) record(chunk.toString('latin1', start, tab), chunk.subarray(tab + 1, end + 1));
    start = end + 1;
  }
  return start;
}

/** What the reader needs of the nginx plane writing the file. */
export interface LogWriter {
  /**
   * Has nginx open the file again by its name: a reload, whose new workers write to the new file and whose old
   * ones write out their buffers as they exit. Not SIGUSR1: workers reopen files themselves, and a master running
   * as root runs them as nobody, who cannot open a file in Pier's 0700 folder (they would keep the old one).
   */
  reopen(): void;
  /** Whether nginx (any process of it) still has this file open. */
  holds(file: string): Promise<boolean>;
}

export interface NginxAccessLogOptions {
  record: RecordAccessLine;
  /** The file is rotated once this much has been read from it. */
  rotateBytes?: number;
  /** How often new lines are read (nginx writes its buffer when full, and at least once a second: flush=1s). */
  readMs?: number;
}

/** A rotation is a reload (see LogWriter), which closes idle kept-alive connections: at 30,000 requests a second, one every 35 s or so. */
const DEFAULT_ROTATE_BYTES = 256 * 1024 * 1024;
const DEFAULT_READ_MS = 200;
/** Larger than any line (host, method and path are cut at 1024 characters, at most 6 bytes each once escaped). */
const READ_BUFFER_BYTES = 256 * 1024;

/** A file being read from where the last read stopped, with the start of a line nginx was still writing. */
class Tail {
  private offset = 0;
  private held = 0;
  private readonly buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  /** `file`: the name it has now (the descriptor read from follows a rename). */
  constructor(public file: string, private readonly handle: FileHandle) {}

  get read(): number {
    return this.offset;
  }

  /** Reads to the end of what nginx has written, giving each complete line to `record`. */
  async drain(record: RecordAccessLine, log: Logger): Promise<void> {
    for (;;) {
      const { bytesRead } = await this.handle.read(this.buffer, this.held, this.buffer.length - this.held, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      const filled = this.held + bytesRead;
      const used = splitAccessLines(this.buffer.subarray(0, filled), record);
      this.held = filled - used;
      if (this.held === this.buffer.length) {
        log.warn({ file: this.file, bytes: this.held }, 'nginx access log: a line longer than the read buffer was skipped');
        this.held = 0;
      }
      this.buffer.copyWithin(0, used, filled);
    }
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

async function tail(file: string): Promise<Tail> {
  // nginx opens it by name and appends; made here first so it is Pier's only (0600, in the plane's 0700 folder).
  await open(file, 'a', 0o600).then((h) => h.close());
  return new Tail(file, await open(file, 'r'));
}

/**
 * The nginx plane's access log: nginx appends each request's line, already in the form the router's log
 * stores, to a file (64 KB buffers, one write each), read here every `readMs` from where the last read
 * stopped. Once the file holds `rotateBytes`, it is renamed, nginx reloaded to open it again by name, and the
 * renamed file is read to its end once no nginx process has it open any more, then removed: no line is lost
 * or read twice. Only nginx and Pier can write the file, so its lines need no proof of origin.
 */
export class NginxAccessLog {
  private current: Tail | undefined;
  /** The renamed file nginx may still be writing to, until every process of it has reopened its logs. */
  private rotated: Tail | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> = Promise.resolve();
  private readonly rotateBytes: number;
  private readonly readMs: number;

  constructor(private readonly file: string, private readonly options: NginxAccessLogOptions, private readonly log: Logger) {
    this.rotateBytes = options.rotateBytes ?? DEFAULT_ROTATE_BYTES;
    this.readMs = options.readMs ?? DEFAULT_READ_MS;
  }

  private get rotatedFile(): string {
    return `${this.file}.1`;
  }

  /**
   * Before nginx starts: an empty file. A previous run's (the daemon was killed) goes unread, since how far it was
   * read is not known: up to a second of lines from before the crash would otherwise be logged twice.
   */
  async prepare(): Promise<void> {
    await Promise.all([rm(this.file, { force: true }), rm(this.rotatedFile, { force: true })]);
    this.current = await tail(this.file);
  }

  /** Reads new lines every readMs while nginx runs (`writer`: the plane, once its master has started). */
  follow(writer: LogWriter): void {
    this.timer = setInterval(() => {
      this.reading = this.reading.then(() => this.step(writer)).catch((err: unknown) => this.log.warn({ err }, 'nginx access log: reading failed'));
    }, this.readMs).unref();
  }

  /** Once nginx has exited (its workers wrote their buffers out): the last lines are read and the files removed. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
    for (const t of [this.rotated, this.current]) {
      if (!t) continue;
      await t.drain(this.options.record, this.log).catch((err: unknown) => this.log.warn({ err }, 'nginx access log: its last lines could not be read'));
      await t.close();
      await rm(t.file, { force: true });
    }
    this.rotated = this.current = undefined;
  }

  private async step(writer: LogWriter): Promise<void> {
    const { record } = this.options;
    if (this.rotated) {
      // Asked before reading: what a process wrote before letting go of the file is read below.
      const done = !(await writer.holds(this.rotated.file));
      await this.rotated.drain(record, this.log);
      if (done) {
        await this.rotated.close();
        await rm(this.rotated.file, { force: true });
        this.rotated = undefined;
      }
    }
    const current = this.current!;
    await current.drain(record, this.log);
    if (current.read >= this.rotateBytes && !this.rotated) {
      await rename(this.file, this.rotatedFile);
      current.file = this.rotatedFile;
      this.rotated = current;
      this.current = await tail(this.file);
      writer.reopen();
    }
  }
}
