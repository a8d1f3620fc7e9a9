// The pure half of cell output: Jupyter output messages (colab/kernel/output) become
// plain output descriptions and edits (append, append items, replace items, clear),
// which controller.ts turns into vscode.NotebookCellOutput calls. No `vscode` here, so
// the unit tests check the mapping directly.

import type { KernelOutput, MimeBundle } from '../runtime/methods';

export type PlainItem =
  | { kind: 'stdout' | 'stderr'; text: string }
  | { kind: 'text'; mime: string; text: string }
  | { kind: 'bytes'; mime: string; bytes: Uint8Array }
  | { kind: 'json'; mime: string; value: unknown }
  | { kind: 'error'; name: string; message: string; stack: string };

export interface PlainOutput {
  items: PlainItem[];
  /** outputType (as the ipynb serializer reads it), executionCount, displayId, the kernel's metadata. */
  metadata: Record<string, unknown>;
}

export type OutputEdit =
  | { edit: 'clear' }
  | { edit: 'append'; output: PlainOutput }
  | { edit: 'appendItems'; index: number; items: PlainItem[] }
  | { edit: 'replaceItems'; index: number; items: PlainItem[] }
  /** A display this cell does not have: it lives in another cell of the notebook (the controller finds it). */
  | { edit: 'updateDisplay'; displayId: string; items: PlainItem[] };

/** Mime types whose string values are base64 (nbformat stores binary images so). */
const base64Mimes = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/bmp', 'image/webp']);

/** One item per mime type of a bundle, in the bundle's order. */
export function mimeItems(data: MimeBundle): PlainItem[] {
  const items: PlainItem[] = [];
  for (const [mime, value] of Object.entries(data ?? {})) {
    if (value === undefined || value === null) {
      continue;
    }
    const text = typeof value === 'string' ? value : Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.join('') : undefined;
    if (base64Mimes.has(mime) && text !== undefined) {
      items.push({ kind: 'bytes', mime, bytes: new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'base64')) });
    } else if (mime === 'application/json' || mime.endsWith('+json') || text === undefined) {
      items.push({ kind: 'json', mime, value });
    } else {
      items.push({ kind: 'text', mime, text });
    }
  }
  return items;
}

/**
 * The outputs of one cell execution, kept in step with what VS Code shows. apply()
 * takes each output message and returns the edits that bring the cell up to date.
 */
export class CellOutputModel {
  readonly outputs: PlainOutput[] = [];
  /** From execute_input or execute_result. */
  executionCount: number | undefined;
  /** clear_output(wait=true) came: clear when the next output arrives. */
  private clearPending = false;
  /** display_id → index in outputs. */
  private readonly displays = new Map<string, number>();

  apply(message: KernelOutput): OutputEdit[] {
    switch (message.type) {
      case 'execute_input':
        if (message.executionCount !== undefined) {
          this.executionCount = message.executionCount;
        }
        return [];
      case 'clear_output':
        if (message.wait) {
          this.clearPending = true;
          return [];
        }
        this.clearPending = false;
        return [this.clear()];
      case 'update_display_data': {
        // Updates an existing display; not an output of its own, so a pending clear waits on.
        if (message.displayId === undefined) {
          return [];
        }
        const index = this.displays.get(message.displayId);
        const items = mimeItems(message.data);
        if (index === undefined) {
          return [{ edit: 'updateDisplay', displayId: message.displayId, items }];
        }
        this.outputs[index] = { ...this.outputs[index], items };
        return [{ edit: 'replaceItems', index, items }];
      }
      default: {
        const edits: OutputEdit[] = [];
        if (this.clearPending) {
          this.clearPending = false;
          edits.push(this.clear());
        }
        edits.push(this.add(message));
        return edits;
      }
    }
  }

  private clear(): OutputEdit {
    this.outputs.length = 0;
    this.displays.clear();
    return { edit: 'clear' };
  }

  private add(message: Exclude<KernelOutput, { type: 'execute_input' | 'clear_output' | 'update_display_data' }>): OutputEdit {
    switch (message.type) {
      case 'stream': {
        const item: PlainItem = { kind: message.name === 'stderr' ? 'stderr' : 'stdout', text: message.text };
        const index = this.outputs.length - 1;
        const last = this.outputs[index];
        if (last && last.metadata.outputType === 'stream' && last.items.every((i) => i.kind === item.kind)) {
          last.items.push(item);
          return { edit: 'appendItems', index, items: [item] };
        }
        return this.append({ items: [item], metadata: { outputType: 'stream' } });
      }
      case 'execute_result':
        if (message.executionCount !== undefined) {
          this.executionCount = message.executionCount;
        }
        return this.append({
          items: mimeItems(message.data),
          metadata: { outputType: 'execute_result', executionCount: message.executionCount, metadata: message.metadata ?? {} },
        });
      case 'display_data': {
        const metadata: Record<string, unknown> = { outputType: 'display_data', metadata: message.metadata ?? {} };
        if (message.displayId !== undefined) {
          metadata.displayId = message.displayId;
          this.displays.set(message.displayId, this.outputs.length);
        }
        return this.append({ items: mimeItems(message.data), metadata });
      }
      case 'error':
        return this.append({
          items: [{ kind: 'error', name: message.ename, message: message.evalue, stack: (message.traceback ?? []).join('\n') }],
          metadata: { outputType: 'error' },
        });
    }
  }

  private append(output: PlainOutput): OutputEdit {
    this.outputs.push(output);
    return { edit: 'append', output: { items: [...output.items], metadata: output.metadata } };
  }
}
