// Unit tests of the theme choice: kept across starts, "as the system" shows what the OS asks for.
import { describe, expect, it } from 'vitest';
import { applyTheme, savedTheme } from './theme';

function memory() {
  const items = new Map<string, string>();
  return {
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => void items.set(k, v),
    removeItem: (k: string) => void items.delete(k),
  };
}

describe('theme', () => {
  it('keeps light or dark, and forgets the choice for the system', () => {
    const storage = memory();
    const root = { dataset: {} as Record<string, string> } as unknown as HTMLElement;
    expect(savedTheme(storage)).toBe('system');
    applyTheme('dark', root, storage);
    expect(root.dataset.theme).toBe('dark');
    expect(savedTheme(storage)).toBe('dark');
    applyTheme('system', root, storage, () => false);
    expect(root.dataset.theme).toBe('light');
    expect(savedTheme(storage)).toBe('system');
    applyTheme('system', root, storage, () => true);
    expect(root.dataset.theme).toBe('dark');
    expect(savedTheme(storage)).toBe('system');
    storage.setItem('hallmark.theme', 'neon');
    expect(savedTheme(storage)).toBe('system');
  });
});
