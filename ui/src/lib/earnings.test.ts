// Unit tests of the Earnings screen's state: which marketplace is shown, refresh, the offline state, export.
import { describe, expect, it } from 'vitest';
import type { EarningsApi } from './api';
import type { EarningsStep, EarningsView, Marketplace } from './bindings';
import { EarningsSession, periodLabel } from './earnings.svelte';
import { HallmarkError } from './errors';

const MARKET: Marketplace = {
  origin: 'http://127.0.0.1:8080', marketplace: 'did:key:z6Mkm', creator: 'did:key:z6Mkc', name: 'Ana',
  joinedAt: '2026-11-23T00:00:00Z',
};

function view(statemented: string, step: EarningsStep = 'day'): EarningsView {
  return {
    origin: MARKET.origin, step, series: [], datasets: [], shards: [], statements: [], logConsistent: true,
    findings: [], findingsTotal: 0, receipts: 3,
    totals: [{ currency: 'USD', statemented, paid: '0', estimated: '0', payable: statemented, accesses: 3, samples: 9, buyers: 2 }],
  };
}

class FakeEarningsApi implements EarningsApi {
  markets: Marketplace[] = [MARKET];
  stored: EarningsView | null = null;
  refreshFails: unknown = null;
  steps: EarningsStep[] = [];
  async marketplaces() {
    return this.markets;
  }
  async earningsView(_origin: string, step: EarningsStep) {
    this.steps.push(step);
    return this.stored;
  }
  async refreshEarnings(_origin: string, step: EarningsStep) {
    if (this.refreshFails) throw this.refreshFails;
    this.stored = view('0.03', step);
    return this.stored;
  }
  async exportEarnings() {
    return '/home/ana/hallmark-earnings.csv';
  }
}

describe('EarningsSession', () => {
  it('says when no marketplace is joined', async () => {
    const api = new FakeEarningsApi();
    api.markets = [];
    const session = new EarningsSession(api);
    await session.load();
    expect(session.status).toBe('no_marketplace');
  });

  it('shows nothing fetched yet, then the refreshed earnings, and exports', async () => {
    const api = new FakeEarningsApi();
    const session = new EarningsSession(api);
    await session.load();
    expect(session.origin).toBe(MARKET.origin);
    expect(session.status).toBe('empty');
    await session.refresh();
    expect(session.status).toBe('ready');
    expect(session.view?.totals[0]?.statemented).toBe('0.03');
    await session.setStep('month');
    expect(api.steps.at(-1)).toBe('month');
    await session.exportCsv();
    expect(session.exported).toBe('/home/ana/hallmark-earnings.csv');
  });

  it('keeps what is stored on screen when the marketplace cannot be reached, and says so', async () => {
    const api = new FakeEarningsApi();
    api.stored = view('0.01');
    const session = new EarningsSession(api);
    await session.load();
    api.refreshFails = { code: 'offline', message: 'Cannot reach http://127.0.0.1:8080.' };
    await session.refresh();
    expect(session.status).toBe('ready');
    expect(session.view?.totals[0]?.statemented).toBe('0.01');
    expect(session.offline).toContain('Cannot reach');
    expect(session.error).toBeNull();

    api.refreshFails = new HallmarkError('marketplace_changed', "The marketplace's identity changed.");
    await session.refresh();
    expect(session.error?.code).toBe('marketplace_changed');
    expect(session.refreshing).toBe(false);
  });

  it('names ISO weeks in words', () => {
    expect(periodLabel('2026-W48')).toBe('Week 48, 2026');
    expect(periodLabel('2026-11-23')).toBe('2026-11-23');
  });
});
