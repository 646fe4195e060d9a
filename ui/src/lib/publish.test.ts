// Unit tests of the Publish screen's state: joining, progress with rate and time left, pause and resume.
import { describe, expect, it } from 'vitest';
import type { PublishApi } from './api';
import type { JobProgress, Marketplace, PublishRequest, PublishResult } from './bindings';
import { HallmarkError } from './errors';
import { PublishSession, timeLeft } from './publish.svelte';

const MARKET: Marketplace = {
  origin: 'http://127.0.0.1:8787', marketplace: 'did:key:z6Mkm', creator: 'did:key:z6Mkc', name: 'Ana',
  joinedAt: '2026-11-23T00:00:00Z',
};

const RESULT: PublishResult = {
  origin: MARKET.origin, name: 'takes', version: '1.0.0', versionId: 'v_1', catalogUrl: `${MARKET.origin}/v1/catalog/v_1`,
  alreadyPublished: false, price: '0.002', currency: 'EUR', shards: 2, uploadedShards: 2, alreadyHeldShards: 0, bytesSent: 2000,
};

function progress(bytesDone: number): JobProgress {
  return { jobId: 'p', phase: 'uploading', itemsDone: 0, itemsTotal: 2, bytesDone, bytesTotal: 2000, message: null };
}

class FakePublishApi implements PublishApi {
  joined: Marketplace[] = [];
  requests: PublishRequest[] = [];
  cancelled: string[] = [];
  finish: ((r: PublishResult) => void) | null = null;
  onProgress: ((p: JobProgress) => void) | null = null;
  async localMarketplace() {
    return MARKET.origin;
  }
  async marketplaces() {
    return this.joined;
  }
  async joinMarketplace(url: string, name: string) {
    if (name === '') throw { code: 'invalid_input', message: 'Type the name buyers will see.' };
    const joined = { ...MARKET, origin: url, name };
    this.joined.push(joined);
    return joined;
  }
  publishDataset(request: PublishRequest, _jobId: string, onProgress: (p: JobProgress) => void) {
    this.requests.push(request);
    this.onProgress = onProgress;
    return new Promise<PublishResult>((resolve, reject) => {
      this.finish = resolve;
      this.cancelJob = async (jobId: string) => {
        this.cancelled.push(jobId);
        reject(new HallmarkError('cancelled', 'Cancelled.'));
        return true;
      };
    });
  }
  async cancelJob(jobId: string) {
    this.cancelled.push(jobId);
    return false;
  }
  interrupted = [] as { origin: string; out: string; source: string; price: string; currency: string }[];
  async interruptedPublishes() {
    return this.interrupted;
  }
  async checkMarketplace(origin: string) {
    return origin === MARKET.origin
      ? { state: 'same' as const, found: MARKET.marketplace, message: null }
      : { state: 'changed' as const, found: 'did:key:z6MkOther', message: 'another key' };
  }
}

describe('PublishSession', () => {
  it('offers the local marketplace, joins it, and says why a join is refused', async () => {
    const api = new FakePublishApi();
    const session = new PublishSession(api);
    await session.load();
    expect(session.joinUrl).toBe(MARKET.origin);
    expect(session.origin).toBeNull();
    await session.join(null);
    expect(session.error?.code).toBe('invalid_input');
    session.joinName = 'Ana';
    await session.join(null);
    expect(session.origin).toBe(MARKET.origin);
    expect(session.marketplaces).toHaveLength(1);
  });

  it('publishes with the terms, showing rate and time left, and can pause then resume', async () => {
    const api = new FakePublishApi();
    api.joined = [MARKET];
    let clock = 0;
    const session = new PublishSession(api, () => clock);
    await session.load();
    session.price = ' 0.002 ';
    const run = session.publish('/data/takes');
    expect(session.status).toBe('publishing');
    expect(api.requests[0]).toEqual({
      out: '/data/takes', source: null, origin: MARKET.origin, price: '0.002', currency: 'EUR', maxBytesPerSecond: null,
    });
    api.onProgress?.(progress(0));
    clock = 1000;
    api.onProgress?.(progress(500));
    expect(session.rate).toBe(500);
    expect(session.secondsLeft).toBe(3);
    await session.pause();
    await run;
    expect(session.status).toBe('paused');
    expect(session.error).toBeNull();

    const resumed = session.publish('/data/takes');
    api.finish?.(RESULT);
    await resumed;
    expect(session.status).toBe('published');
    expect(session.result?.versionId).toBe('v_1');
  });

  it('a cancelled publish goes back to the start', async () => {
    const api = new FakePublishApi();
    api.joined = [MARKET];
    const session = new PublishSession(api);
    await session.load();
    const run = session.publish('/data/takes');
    await session.cancel();
    await run;
    expect(session.status).toBe('idle');
  });

  it('offers an interrupted publish and resumes it with its own terms', async () => {
    const api = new FakePublishApi();
    api.joined = [MARKET];
    api.interrupted = [{ origin: MARKET.origin, out: '/data/takes', source: '/w/takes', price: '0.004', currency: 'USD' }];
    const session = new PublishSession(api);
    await session.load();
    expect(session.interrupted).toHaveLength(1);
    const item = session.interrupted[0];
    if (!item) throw new Error('no interrupted publish');
    const resumed = session.resume(item);
    expect(api.requests[0]).toMatchObject({ out: '/data/takes', price: '0.004', currency: 'USD' });
    api.finish?.(RESULT);
    await resumed;
    expect(session.status).toBe('published');
    expect(session.interrupted).toHaveLength(0);
  });

  it('keeps each marketplace check by origin', async () => {
    const session = new PublishSession(new FakePublishApi());
    await session.check(MARKET.origin);
    await session.check('http://elsewhere');
    expect(session.checks[MARKET.origin]?.state).toBe('same');
    expect(session.checks['http://elsewhere']?.state).toBe('changed');
  });

  it('says the time left in words', () => {
    expect(timeLeft(12.2)).toBe('13 s left');
    expect(timeLeft(125)).toBe('2 min 5 s left');
    expect(timeLeft(7500)).toBe('2 h 5 min left');
  });
});
