/**
 * Fault injection: each fault is scoped to an endpoint name (exact, a prefix such as 'token' for
 * 'token.refresh', or '*') and a count of requests (default 1; 0 = until cleared).
 *
 * @example
 * faults.add({ endpoint: 'token.refresh', kind: 'commit-then-drop' });
 * faults.take('token.refresh'); // the fault, once
 */
import type { Fault } from './types.ts';

const KINDS = new Set(['latency', 'status', 'drop', 'commit-then-drop']);

/** Checks a fault that arrived as JSON; returns an error message or undefined. */
export function faultProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'fault must be an object';
  const f = value as Record<string, unknown>;
  if (typeof f.endpoint !== 'string' || f.endpoint === '') return 'fault.endpoint must be a non-empty string';
  if (typeof f.kind !== 'string' || !KINDS.has(f.kind)) return `fault.kind must be one of ${[...KINDS].join(', ')}`;
  if (f.count !== undefined && (!Number.isInteger(f.count) || (f.count as number) < 0)) return 'fault.count must be an integer >= 0';
  if (f.kind === 'latency' && (typeof f.ms !== 'number' || !(f.ms >= 0))) return 'latency fault needs ms >= 0';
  if (f.kind === 'status' && (!Number.isInteger(f.status) || (f.status as number) < 100 || (f.status as number) > 599)) return 'status fault needs status 100..599';
  if (f.kind === 'status' && f.body !== undefined && typeof f.body !== 'string') return 'status fault body must be a string';
  return undefined;
}

function matches(pattern: string, endpoint: string): boolean {
  return pattern === '*' || pattern === endpoint || endpoint.startsWith(`${pattern}.`);
}

/** The active faults of one emulator. */
export class FaultSet {
  private faults: { fault: Fault; left: number }[] = [];

  add(fault: Fault): void {
    const problem = faultProblem(fault);
    if (problem) throw new TypeError(problem);
    this.faults.push({ fault: { ...fault }, left: fault.count ?? 1 });
  }

  clear(): void {
    this.faults = [];
  }

  /** The first fault for `endpoint`, used up by one. */
  take(endpoint: string): Fault | undefined {
    const entry = this.faults.find((e) => matches(e.fault.endpoint, endpoint));
    if (!entry) return undefined;
    if (entry.left > 0) {
      entry.left -= 1;
      if (entry.left === 0) this.faults = this.faults.filter((e) => e !== entry);
    }
    return entry.fault;
  }

  list(): Fault[] {
    return this.faults.map((e) => e.fault);
  }
}
