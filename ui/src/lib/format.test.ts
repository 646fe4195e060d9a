// Unit tests of the number and size formatting creators read on every screen.
import { describe, expect, it } from 'vitest';
import { folderName, formatBytes, formatCount, plural, sentence } from './format';

describe('formatBytes', () => {
  it('keeps small sizes exact and names the unit in words', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 byte');
    expect(formatBytes(999)).toBe('999 bytes');
  });

  it('uses decimal units with three significant figures', () => {
    expect(formatBytes(1000)).toBe('1 kB');
    expect(formatBytes(1234)).toBe('1.23 kB');
    expect(formatBytes(45_600_000)).toBe('45.6 MB');
    expect(formatBytes(123_456_789_012)).toBe('123 GB');
    expect(formatBytes(1.1e15)).toBe('1.1 PB');
  });
});

describe('plural and folderName', () => {
  it('says one file and many files', () => {
    expect(plural(1, 'file', 'files')).toBe('1 file');
    expect(plural(2, 'file', 'files')).toBe('2 files');
  });

  it('takes the last part of a path, ignoring trailing slashes', () => {
    expect(folderName('/home/ana/shoots/berlin/')).toBe('berlin');
    expect(folderName('C:\\work\\voice')).toBe('voice');
    expect(folderName('/')).toBe('/');
  });
});

describe('formatCount', () => {
  it('groups digits so large counts stay readable', () => {
    expect(formatCount(1413369)).toMatch(/^1\D413\D369$/);
  });

  it('turns phrases into sentences once', () => {
    expect(sentence('remove the location from the photo')).toBe('Remove the location from the photo.');
    expect(sentence('Already one.')).toBe('Already one.');
    expect(sentence('  ')).toBe('');
  });
});
