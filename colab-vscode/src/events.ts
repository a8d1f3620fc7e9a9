// A minimal event emitter with the shape of vscode.Event, so that modules the unit
// tests load need no `vscode` at run time.

export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (value: T) => void) => Disposable;

export class Emitter<T> implements Disposable {
  private readonly listeners = new Set<(value: T) => void>();

  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };

  fire(value: T): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(value);
      } catch (error) {
        // One broken listener must not keep the others from hearing the news.
        console.error('Colab: an event listener failed', error);
      }
    }
  }

  dispose(): void {
    this.listeners.clear();
  }
}
