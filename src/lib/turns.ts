/**
 * The end of the current event-loop turn: the check phase (`setImmediate`) right after the turn's
 * I/O callbacks. One promise a turn, shared by every caller in it, so a turn's waiters cost one
 * immediate, not one each. Once it has settled the next caller gets the next turn's end, so a loop
 * that awaits it between attempts lets the event loop poll for I/O at least every other attempt
 * (asked within a check phase before that phase settled the turn's promise, it is still that one).
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
