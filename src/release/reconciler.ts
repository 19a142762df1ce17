import type { Logger } from '../log.js';
import type { ProcessService } from './process-service.js';

export interface Reconciler {
  /** Asks for a pass soon (a container of `app` died or started). */
  poke(): void;
  close(): Promise<void>;
}

/**
 * Makes running containers match each app's formation: on a timer, and soon after any container
 * event. Passes never overlap; a poke during a pass schedules one more.
 */
export function startReconciler(processes: ProcessService, intervalMs: number, log: Logger): Reconciler {
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let soon: NodeJS.Timeout | undefined;
  const pass = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = processes
      .reconcileAll()
      .catch((err: unknown) => log.warn({ err }, 'reconcile pass failed'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          pass();
        }
      });
  };
  const timer = setInterval(pass, intervalMs);
  timer.unref();
  pass();
  return {
    poke: () => {
      // Events come in bursts (die, then start); one pass a moment later sees them all.
      clearTimeout(soon);
      soon = setTimeout(pass, 300);
      soon.unref();
    },
    close: async () => {
      closed = true;
      clearInterval(timer);
      clearTimeout(soon);
      await running;
    },
  };
}
