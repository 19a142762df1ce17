import { pino, type Logger } from 'pino';

export type { Logger };

/** Config values never reach the logs: these paths are redacted wherever they appear. */
const redact = ['config', 'env', 'token', 'password', '*.config', '*.env', '*.token', 'headers.authorization'];

export function createLogger(level: string, name = 'pier'): Logger {
  return pino({ name, level, redact: { paths: redact, censor: '[redacted]' } });
}
