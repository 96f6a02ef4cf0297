/** A tiny synchronous event bus: listeners that throw are reported, never break the emitter. */
export class EventBus<E> {
  private readonly listeners = new Set<(e: E) => void>();

  constructor(private readonly onListenerError: (err: unknown) => void) {}

  /** Subscribe; returns the unsubscribe function. */
  on(listener: (e: E) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: E): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
