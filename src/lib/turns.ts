/**
 * The end of the current event-loop turn: the check phase (`setImmediate`) right after the turn's
 * I/O callbacks. One promise a turn, shared by every caller in it, so a turn's waiters cost one
 * immediate, not one each. Asked from within a check phase, it is the next turn's end: whoever
 * awaits it lets the event loop poll for I/O first.
 */
let pending: Promise<void> | undefined;

export function turnEnd(): Promise<void> {
  pending ??= new Promise((resolve) => {
    setImmediate(() => {
      pending = undefined;
      resolve();
    });
  });
  return pending;
}

/** Whether `end` (an earlier `turnEnd()`) is still to come: the caller is in the turn it asked in. */
export function isAhead(end: Promise<void>): boolean {
  return pending === end;
}
