import { destination, pino, type Logger } from 'pino';

export type { Logger };

/** Config values never reach the logs: these paths are redacted wherever they appear. */
const redact = ['config', 'env', 'token', 'password', '*.config', '*.env', '*.token', 'headers.authorization'];

/** JSON-lines logs to stdout, or to `logFile` when given. */
export function createLogger(level: string, logFile?: string): Logger {
  const options = { name: 'pier', level, redact: { paths: redact, censor: '[redacted]' } };
  return logFile ? pino(options, destination({ dest: logFile, sync: true })) : pino(options);
}
