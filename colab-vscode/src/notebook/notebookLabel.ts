// The notebook a kernel is for, as colab/kernel/start's `notebook`: the daemon gives the kernel a
// Jupyter session with this path, so the Runtimes view (and JupyterLab, /api/sessions) name the
// notebook instead of just "python3". A label only: it never decides where anything is written.

/** The daemon's limit (RuntimeMethods.MaxNotebookLabel). */
export const maxNotebookLabel = 1024;

/**
 * A relative, printable label for a notebook: its workspace-relative path when VS Code gave one,
 * else its file name (untitled notebooks, other schemes, files outside the workspace).
 */
export function notebookLabel(uri: { path?: string; toString(): string }, relative?: string): string | undefined {
  const clean = (s: string) =>
    s
      .replace(/[\u0000-\u001f\u007f-\u009f]/g, '')
      .replace(/\\/g, '/')
      .split('/')
      .filter((part) => part !== '' && part !== '.' && part !== '..')
      .join('/');
  const absolute = (s: string) => s.startsWith('/') || s.startsWith('\\') || /^[a-zA-Z]:/.test(s);
  const whole = uri.path ?? uri.toString().replace(/[?#].*$/, '');
  const name = clean(whole.slice(whole.replace(/\\/g, '/').lastIndexOf('/') + 1));
  const label = relative && !absolute(relative) && !/^[a-z][a-z0-9+.-]*:/i.test(relative) ? clean(relative) : name;
  const result = label.length > maxNotebookLabel ? name : label;
  return result && result.length <= maxNotebookLabel ? result : undefined;
}
