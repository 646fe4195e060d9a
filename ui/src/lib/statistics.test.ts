// Unit tests of dataset statistics in words.
import { describe, expect, it } from 'vitest';
import type { MediaStatistics } from './bindings';
import { countWords, formatDuration, measuredWords } from './statistics';

function media(kind: MediaStatistics['kind'], patch: Partial<MediaStatistics>): MediaStatistics {
  return {
    kind, files: 0, bytes: 0, imagesMeasured: 0, minWidth: 0, maxWidth: 0, minHeight: 0, maxHeight: 0,
    audioMeasured: 0, totalDurationMs: 0, minDurationMs: 0, maxDurationMs: 0, sampleRates: [], channels: [],
    textsMeasured: 0, totalChars: 0, totalLines: 0, ...patch,
  };
}

describe('statistics in words', () => {
  it('says durations the way people do', () => {
    expect(formatDuration(44_600)).toBe('45 s');
    expect(formatDuration(200_000)).toBe('3 min 20 s');
    expect(formatDuration(7_500_000)).toBe('2 h 5 min');
  });

  it('gives image dimensions as a range, or one size when all are alike', () => {
    expect(measuredWords(media('image', { imagesMeasured: 2, minWidth: 640, maxWidth: 4032, minHeight: 480, maxHeight: 3024 })))
      .toBe('640–4,032 × 480–3,024 px');
    expect(measuredWords(media('image', { imagesMeasured: 1, minWidth: 64, maxWidth: 64, minHeight: 64, maxHeight: 64 })))
      .toBe('64 × 64 px');
    expect(measuredWords(media('image', { files: 3 }))).toBe('');
  });

  it('gives audio length, rates and channels', () => {
    expect(
      measuredWords(media('audio', {
        audioMeasured: 2, totalDurationMs: 90_000, minDurationMs: 30_000, maxDurationMs: 60_000,
        sampleRates: [44_100, 48_000], channels: [1, 2],
      })),
    ).toBe('1 min 30 s in all, 30 s to 1 min each, 44.1 kHz, 48 kHz, mono, stereo');
  });

  it('gives text lengths and file counts', () => {
    expect(measuredWords(media('text', { textsMeasured: 1, totalChars: 12_345, totalLines: 1 }))).toBe('12,345 characters, 1 line');
    expect(countWords(media('text', { files: 1, bytes: 2_500 }))).toBe('1 file · 2.5 kB');
  });
});
