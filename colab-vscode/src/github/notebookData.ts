// An nbformat 4 notebook (already checked by the daemon, embedded as JSON in its answer) → plain cell descriptions that
// commands.ts turns into vscode.NotebookData for an untitled notebook. No `vscode` here,
// so the unit tests check the mapping directly. Outputs reuse the kernel-output mapping.

import { mimeItems, type PlainItem } from '../notebook/outputs';

export interface PlainCell {
  kind: 'code' | 'markup';
  source: string;
  language: string;
  metadata: Record<string, unknown>;
  outputs: { items: PlainItem[]; metadata: Record<string, unknown> }[];
  executionCount?: number;
}

export interface PlainNotebook {
  cells: PlainCell[];
  metadata: Record<string, unknown>;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.filter((s) => typeof s === 'string').join('') : '');

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `nb` is the notebook object embedded in the colab/github/open answer (parsed with the frame). */
export function plainNotebook(nb: unknown): PlainNotebook {
  if (!isObject(nb) || !Array.isArray(nb.cells)) {
    throw new Error('The daemon answered something that is not an nbformat 4 notebook.');
  }
  const metadata = isObject(nb.metadata) ? nb.metadata : {};
  const languageInfo = isObject(metadata.language_info) ? metadata.language_info : {};
  const kernelspec = isObject(metadata.kernelspec) ? metadata.kernelspec : {};
  const language = (typeof languageInfo.name === 'string' && languageInfo.name) || (typeof kernelspec.language === 'string' && kernelspec.language) || 'python';
  const cells = nb.cells.filter(isObject).map((cell): PlainCell => {
    const cellMetadata = isObject(cell.metadata) ? cell.metadata : {};
    if (cell.cell_type !== 'code') {
      return {
        kind: 'markup',
        source: text(cell.source),
        language: cell.cell_type === 'raw' ? 'raw' : 'markdown',
        metadata: { metadata: cellMetadata, ...(cell.attachments ? { attachments: cell.attachments } : {}) },
        outputs: [],
      };
    }
    const executionCount = typeof cell.execution_count === 'number' ? cell.execution_count : undefined;
    const outputs = (Array.isArray(cell.outputs) ? cell.outputs : []).filter(isObject).map((o) => {
      const outputType = String(o.output_type ?? '');
      const meta = { outputType, ...(isObject(o.metadata) ? { metadata: o.metadata } : {}), ...(typeof o.execution_count === 'number' ? { executionCount: o.execution_count } : {}) };
      if (outputType === 'stream') {
        return { items: [{ kind: o.name === 'stderr' ? 'stderr' : 'stdout', text: text(o.text) } as PlainItem], metadata: meta };
      }
      if (outputType === 'error') {
        const stack = Array.isArray(o.traceback) ? o.traceback.filter((s) => typeof s === 'string').join('\n') : '';
        return { items: [{ kind: 'error', name: String(o.ename ?? ''), message: String(o.evalue ?? ''), stack } as PlainItem], metadata: meta };
      }
      return { items: mimeItems(isObject(o.data) ? (o.data as Record<string, never>) : {}), metadata: meta };
    });
    return { kind: 'code', source: text(cell.source), language, metadata: { metadata: cellMetadata }, outputs, executionCount };
  });
  return {
    cells,
    metadata: { metadata, nbformat: nb.nbformat ?? 4, nbformat_minor: nb.nbformat_minor ?? 5 },
  };
}
