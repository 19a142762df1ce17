/**
 * Reads the JSON-lines stream of Docker's build API. The API answers 200 even when the build
 * fails; the failure is only in the stream, as an `error` message.
 */
export class DockerBuildStream {
  private pending = '';
  private partial = '';
  error?: string;
  imageId?: string;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const lines = (this.pending + chunk).split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.message(line);
  }

  end(): void {
    if (this.pending.trim() !== '') this.message(this.pending);
    this.pending = '';
    if (this.partial !== '') this.onLine(this.partial);
    this.partial = '';
  }

  private message(raw: string): void {
    if (raw.trim() === '') return;
    let msg: { stream?: string; status?: string; progress?: string; error?: string; errorDetail?: { message?: string }; aux?: { ID?: string } };
    try {
      msg = JSON.parse(raw) as typeof msg;
    } catch {
      this.text(`${raw}\n`);
      return;
    }
    if (msg.error !== undefined || msg.errorDetail !== undefined) {
      this.error = (msg.errorDetail?.message ?? msg.error ?? 'unknown error').trim();
    } else if (msg.aux?.ID) {
      this.imageId = msg.aux.ID;
    } else if (msg.stream !== undefined) {
      this.text(msg.stream);
    } else if (msg.status !== undefined && msg.progress === undefined) {
      this.text(`${msg.status}\n`);
    }
  }

  /** `stream` pieces are not aligned to lines; only whole lines are passed on. */
  private text(piece: string): void {
    const lines = (this.partial + piece).split(/\r?\n/);
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }
}
