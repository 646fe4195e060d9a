// The app's theme: as the system says (the default), light or dark, kept in the webview's storage.
export type Theme = 'system' | 'light' | 'dark';

const KEY = 'hallmark.theme';

export const THEMES: readonly { value: Theme; label: string }[] = [
  { value: 'system', label: 'As the system' },
  { value: 'light', label: 'Light' },
  { value: 'dark', label: 'Dark' },
];

/** The theme chosen before, or `system`. */
export function savedTheme(storage: Pick<Storage, 'getItem'> = localStorage): Theme {
  const value = storage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** Shows `theme` now and keeps it for the next start. */
export function applyTheme(
  theme: Theme,
  root: HTMLElement = document.documentElement,
  storage: Pick<Storage, 'setItem' | 'removeItem'> = localStorage,
): void {
  if (theme === 'system') {
    delete root.dataset.theme;
    storage.removeItem(KEY);
  } else {
    root.dataset.theme = theme;
    storage.setItem(KEY, theme);
  }
}
