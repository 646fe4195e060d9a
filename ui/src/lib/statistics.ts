// Dataset statistics in words: per media kind, counts, sizes and what a review measured.
import type { MediaKind, MediaStatistics } from './bindings';
import { formatBytes, formatCount, plural } from './format';

export const MEDIA_LABELS: Record<MediaKind, string> = {
  image: 'Images',
  audio: 'Audio',
  text: 'Texts',
  document: 'Documents',
  other: 'Other files',
};

/** A duration such as "45 s", "3 min 20 s", "2 h 5 min". */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

/** "640 × 480 px" or "640–4032 × 480–3024 px". */
function range(min: number, max: number): string {
  return min === max ? formatCount(min) : `${formatCount(min)}–${formatCount(max)}`;
}

function channelWords(channels: number[]): string {
  return channels.map((c) => (c === 1 ? 'mono' : c === 2 ? 'stereo' : `${c} channels`)).join(', ');
}

function rateWords(rates: number[]): string {
  return rates.map((r) => `${Number((r / 1000).toFixed(r % 100 ? 2 : 1))} kHz`).join(', ');
}

/** What was measured of one media kind, in one line ("" when nothing was measured). */
export function measuredWords(m: MediaStatistics): string {
  if (m.kind === 'image' && m.imagesMeasured > 0) {
    return `${range(m.minWidth, m.maxWidth)} × ${range(m.minHeight, m.maxHeight)} px`;
  }
  if (m.kind === 'audio' && m.audioMeasured > 0) {
    const parts = [`${formatDuration(m.totalDurationMs)} in all`];
    if (m.audioMeasured > 1) {
      parts.push(`${formatDuration(m.minDurationMs)} to ${formatDuration(m.maxDurationMs)} each`);
    }
    if (m.sampleRates.length > 0) parts.push(rateWords(m.sampleRates));
    if (m.channels.length > 0) parts.push(channelWords(m.channels));
    return parts.join(', ');
  }
  if (m.kind === 'text' && m.textsMeasured > 0) {
    return `${plural(m.totalChars, 'character', 'characters')}, ${plural(m.totalLines, 'line', 'lines')}`;
  }
  return '';
}

/** "12 files · 4.2 MB". */
export function countWords(m: MediaStatistics): string {
  return `${plural(m.files, 'file', 'files')} · ${formatBytes(m.bytes)}`;
}
