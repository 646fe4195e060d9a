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

const SYSTEM_DARK = '(prefers-color-scheme: dark)';

/** Whether the system asks for dark. */
function systemIsDark(): boolean {
  return typeof window !== 'undefined' && window.matchMedia?.(SYSTEM_DARK).matches === true;
}

/** Shows `theme` now (the page's `data-theme` is always `light` or `dark`, the system's choice
 * for `system`) and keeps it for the next start. */
export function applyTheme(
  theme: Theme,
  root: HTMLElement = document.documentElement,
  storage: Pick<Storage, 'setItem' | 'removeItem'> = localStorage,
  dark: () => boolean = systemIsDark,
): void {
  if (theme === 'system') {
    root.dataset.theme = dark() ? 'dark' : 'light';
    storage.removeItem(KEY);
  } else {
    root.dataset.theme = theme;
    storage.setItem(KEY, theme);
  }
}

/** Shows the saved theme, and follows the system's changes while the choice is `system`. */
export function startTheme(): void {
  applyTheme(savedTheme());
  window.matchMedia?.(SYSTEM_DARK).addEventListener('change', () => {
    if (savedTheme() === 'system') applyTheme('system');
  });
}
