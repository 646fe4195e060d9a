// Formatting numbers for creators: counts with the locale's separators, sizes in decimal units.

// The webview's language, not the process locale: under LANG=C the default locale drops digit grouping.
const language = (typeof navigator !== 'undefined' && navigator.language) || 'en-US';
const countFormat = new Intl.NumberFormat(language === 'C' ? 'en-US' : language, { useGrouping: true });

/** A count such as 12,345 (in the creator's locale). */
export function formatCount(n: number): string {
  return countFormat.format(n);
}

const UNITS = ['bytes', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/** A size in decimal units (1 kB = 1000 bytes), as file managers show it: 1 byte, 532 bytes, 4.2 MB. */
export function formatBytes(bytes: number): string {
  if (bytes === 1) return '1 byte';
  if (bytes < 1000) return `${bytes} bytes`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  // Three significant figures at most, without a trailing ".0".
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  const shown = Number(value.toFixed(digits));
  return `${shown} ${UNITS[unit]}`;
}

/** "1 file" / "12 files". */
export function plural(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** The last part of a path, for titles ("/home/ana/shoots/berlin" → "berlin"). */
export function folderName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  if (trimmed === '') return path;
  const i = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  return i >= 0 ? trimmed.slice(i + 1) : trimmed;
}

/** A phrase as a sentence: its first letter capital and a full stop at the end ("cut off" → "Cut off."). */
export function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return trimmed;
  const first = trimmed.charAt(0).toLocaleUpperCase();
  const end = /[.!?…)]$/.test(trimmed) ? '' : '.';
  return `${first}${trimmed.slice(1)}${end}`;
}
