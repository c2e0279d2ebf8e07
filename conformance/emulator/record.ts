/**
 * The record: every request the emulator received and every webhook it sent, in order, with
 * listeners for a live timeline.
 *
 * @example
 * const off = recorder.listen((e) => console.log(e.type)); recorder.requests({ endpoint: 'verify' });
 */
import type { DeliveryRecord, RecordedRequest } from './types.ts';

/** What `onEvent` listeners receive. */
export type EmulatorEvent = { type: 'request'; request: RecordedRequest } | { type: 'delivery'; delivery: DeliveryRecord };

/** Holds the requests and deliveries of one emulator. */
export class Recorder {
  private readonly requestList: RecordedRequest[] = [];
  private readonly deliveryList: DeliveryRecord[] = [];
  private readonly listeners = new Set<(event: EmulatorEvent) => void>();
  private nextRequestId = 1;
  private nextDeliveryId = 1;

  /** Records a request (assigning its id) and tells the listeners. */
  addRequest(request: Omit<RecordedRequest, 'id'>): RecordedRequest {
    const recorded = { id: this.nextRequestId++, ...request };
    this.requestList.push(recorded);
    this.emit({ type: 'request', request: recorded });
    return recorded;
  }

  /** Starts a delivery record (visible at once, attempts are appended as they settle). */
  addDelivery(delivery: Omit<DeliveryRecord, 'id'>): DeliveryRecord {
    const record = { id: this.nextDeliveryId++, ...delivery };
    this.deliveryList.push(record);
    return record;
  }

  /** Tells the listeners a delivery settled (all attempts done). */
  settled(delivery: DeliveryRecord): void {
    this.emit({ type: 'delivery', delivery });
  }

  requests(filter: { endpoint?: string } = {}): RecordedRequest[] {
    return this.requestList.filter((r) => filter.endpoint === undefined || r.endpoint === filter.endpoint);
  }

  deliveries(filter: { resource?: string; action?: string; installationId?: string } = {}): DeliveryRecord[] {
    return this.deliveryList.filter((d) =>
      (filter.resource === undefined || d.resource === filter.resource) &&
      (filter.action === undefined || d.action === filter.action) &&
      (filter.installationId === undefined || d.installationId === filter.installationId));
  }

  listen(listener: (event: EmulatorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private emit(event: EmulatorEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener must not break the emulator.
      }
    }
  }
}
