// Unit tests of the folder session: the states a creator sees while opening, failing and cancelling.
import { describe, expect, it } from 'vitest';
import type { FolderApi } from './api';
import type { FolderSummary, JobProgress, RecentFolder } from './bindings';
import { HallmarkError } from './errors';
import { FolderSession } from './folder.svelte';

function summary(root: string, files = 3): FolderSummary {
  return { root, files, bytes: 42, folders: 1, skipped: [], skippedTotal: 0 };
}

/** An in-memory FolderApi whose scans finish when the test says so. */
class FakeApi implements FolderApi {
  recent: RecentFolder[] = [];
  cancelled: string[] = [];
  pending = new Map<string, { resolve: (s: FolderSummary) => void; reject: (e: unknown) => void; progress: (p: JobProgress) => void }>();
  picked: string | null = null;

  summarizeFolder(path: string, jobId: string, onProgress: (p: JobProgress) => void): Promise<FolderSummary> {
    return new Promise((resolve, reject) => {
      this.pending.set(jobId, { resolve, reject, progress: onProgress });
      void path;
    });
  }
  async cancelJob(jobId: string) {
    this.cancelled.push(jobId);
    this.pending.get(jobId)?.reject({ code: 'cancelled', message: 'cancelled' });
    return true;
  }
  async pickFolder() {
    return this.picked;
  }
  async recentFolders() {
    return this.recent;
  }
  async forgetRecentFolder(path: string) {
    this.recent = this.recent.filter((r) => r.path !== path);
    return this.recent;
  }
  only() {
    const [entry] = [...this.pending.values()];
    if (!entry) throw new Error('no scan is running');
    return entry;
  }
}

describe('FolderSession', () => {
  it('shows progress while scanning, then the summary and the refreshed recent list', async () => {
    const api = new FakeApi();
    const session = new FolderSession(api);
    const opening = session.open('  /w/berlin ');
    expect(session.status).toBe('scanning');
    expect(session.path).toBe('/w/berlin');

    const scan = api.only();
    scan.progress({ jobId: 'x', phase: 'scanning', itemsDone: 256, itemsTotal: null, bytesDone: 9, bytesTotal: null, message: null });
    expect(session.progress?.itemsDone).toBe(256);

    api.recent = [{ path: '/w/berlin', openedAt: 1, files: 3, bytes: 42 }];
    scan.resolve(summary('/w/berlin'));
    await opening;
    expect(session.status).toBe('ready');
    expect(session.summary?.files).toBe(3);
    expect(session.progress).toBeNull();
    expect(session.recent.map((r) => r.path)).toEqual(['/w/berlin']);
  });

  it('turns an IPC error into a HallmarkError the screen can show', async () => {
    const api = new FakeApi();
    const session = new FolderSession(api);
    const opening = session.open('/nope');
    api.only().reject({ code: 'not_found', message: 'folder not found: /nope; check the path, or pick the folder again' });
    await opening;
    expect(session.status).toBe('failed');
    expect(session.error).toBeInstanceOf(HallmarkError);
    expect(session.error?.code).toBe('not_found');
    expect(session.error?.message).toContain('/nope');
  });

  it('refuses an empty path without calling the core', async () => {
    const api = new FakeApi();
    const session = new FolderSession(api);
    await session.open('   ');
    expect(session.status).toBe('failed');
    expect(session.error?.code).toBe('invalid_input');
    expect(api.pending.size).toBe(0);
  });

  it('a cancelled scan keeps the previous summary and shows no error', async () => {
    const api = new FakeApi();
    const session = new FolderSession(api);
    const first = session.open('/w/a');
    api.only().resolve(summary('/w/a'));
    await first;
    api.pending.clear();

    const second = session.open('/w/huge');
    await session.cancel();
    await second;
    expect(api.cancelled).toHaveLength(1);
    expect(session.status).toBe('ready');
    expect(session.error).toBeNull();
    expect(session.summary?.root).toBe('/w/a');
  });

  it('opens what the native dialog chose, and nothing when it was closed', async () => {
    const api = new FakeApi();
    const session = new FolderSession(api);
    await session.browse();
    expect(api.pending.size).toBe(0);
    api.picked = '/w/chosen';
    const browsing = session.browse();
    await Promise.resolve();
    await Promise.resolve();
    api.only().resolve(summary('/w/chosen'));
    await browsing;
    expect(session.summary?.root).toBe('/w/chosen');
  });
});

describe('HallmarkError.from', () => {
  it('keeps code and message (as a sentence) of an IPC error and wraps anything else as internal', () => {
    const e = HallmarkError.from({ code: 'io', message: 'cannot read /x: disk on fire' });
    expect([e.code, e.message]).toEqual(['io', 'Cannot read /x: disk on fire.']);
    const odd = HallmarkError.from('boom');
    expect(odd.code).toBe('internal');
    expect(odd.message).toContain('boom');
    expect(HallmarkError.from({ code: 'nonsense', message: 'x' }).code).toBe('internal');
  });
});
