// Unit tests of the seal session: what it asks for before sealing, and the states while and after.
import { describe, expect, it } from 'vitest';
import type { SealApi } from './api';
import type { DatasetChanges, JobProgress, SealedDataset, SealRequest } from './bindings';
import { SealSession } from './seal.svelte';

function sealed(samples: number): SealedDataset {
  return {
    root: '/w/berlin', out: '/data/berlin-1234', files: samples * 2, bytes: 99, samples,
    shards: [{ cid: 'bafkreiexample', size: 4096, files: samples * 2, samples }],
    filesWithoutField: 0, skipped: [], skippedTotal: 0, manifest: '{}', manifestSha256: 'ab', indexSha256: 'cd',
  };
}

class FakeSealApi implements SealApi {
  requests: SealRequest[] = [];
  finish: ((s: SealedDataset) => void) | null = null;
  fail: ((e: unknown) => void) | null = null;
  progress: ((p: JobProgress) => void) | null = null;

  sealDataset(request: SealRequest, _jobId: string, onProgress: (p: JobProgress) => void) {
    this.requests.push(request);
    this.progress = onProgress;
    return new Promise<SealedDataset>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
  }
  watched: string[] = [];
  onChange: ((c: DatasetChanges) => void) | null = null;
  async watchSealedFolder(out: string, onChange: (c: DatasetChanges) => void) {
    this.watched.push(out);
    this.onChange = onChange;
  }
  async signSealed(): Promise<never> {
    throw new Error('not used here');
  }
  async verifySealed(): Promise<never> {
    throw new Error('not used here');
  }
  async cancelJob() {
    this.fail?.({ code: 'cancelled', message: 'cancelled' });
    return true;
  }
}

describe('SealSession', () => {
  it('names the dataset after the folder and asks for who made the work before sealing', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    session.reset('/home/ana/shoots/berlin');
    expect(session.name).toBe('berlin');
    await session.seal();
    expect(session.status).toBe('failed');
    expect(session.error?.message).toBe('Before sealing, add who made the work.');
    expect(api.requests).toHaveLength(0);
  });

  it('sends the choices, shows progress, then the sealed dataset', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    session.reset('/w/berlin');
    session.creator = ' Ana ';
    session.shardSize = 4 * 1024 * 1024;
    const sealing = session.seal();
    expect(session.status).toBe('sealing');
    expect(api.requests[0]).toMatchObject({ path: '/w/berlin', creator: 'Ana', license: 'CC-BY-4.0', shardSize: 4194304, out: null });
    api.progress?.({ jobId: 'j', phase: 'hashing', itemsDone: 1, itemsTotal: 4, bytesDone: 10, bytesTotal: 40, message: null });
    expect(session.progress?.phase).toBe('hashing');
    api.finish?.(sealed(2));
    await sealing;
    expect(session.status).toBe('sealed');
    expect(session.sealed?.samples).toBe(2);
    expect(session.progress).toBeNull();
    // The sealed folder is watched, and its changes are shown.
    expect(api.watched).toEqual(['/data/berlin-1234']);
    api.onChange?.({ added: 1, modified: 2, removed: 0, paths: ['a.txt', 'b.txt', 'c.txt'] });
    expect(session.changes?.modified).toBe(2);
  });

  it('a cancelled seal goes back to editing without an error', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    session.reset('/w/berlin');
    session.creator = 'Ana';
    const sealing = session.seal();
    await session.cancel();
    await sealing;
    expect(session.status).toBe('editing');
    expect(session.error).toBeNull();
  });

  it('a bad license comes back as an error the form shows', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    session.reset('/w/berlin');
    session.creator = 'Ana';
    session.license = 'CC-BY-4';
    const sealing = session.seal();
    api.fail?.({ code: 'invalid_input', message: '"CC-BY-4" is not an SPDX license expression' });
    await sealing;
    expect(session.status).toBe('failed');
    expect(session.error?.code).toBe('invalid_input');
  });
});
