// State of the Earnings screen: the marketplace shown, its verified earnings (cached, offline-readable), refresh and export.
import type { EarningsApi } from './api';
import type { EarningsStep, EarningsView, Marketplace } from './bindings';
import { HallmarkError } from './errors';

export type EarningsStatus = 'loading' | 'no_marketplace' | 'empty' | 'ready' | 'failed';

export const STEPS: readonly { value: EarningsStep; label: string }[] = [
  { value: 'day', label: 'Day' },
  { value: 'week', label: 'Week' },
  { value: 'month', label: 'Month' },
];

export class EarningsSession {
  marketplaces = $state<Marketplace[]>([]);
  origin = $state<string | null>(null);
  step = $state<EarningsStep>('day');
  view = $state<EarningsView | null>(null);
  status = $state<EarningsStatus>('loading');
  refreshing = $state(false);
  /** Why the last refresh could not reach the marketplace; what is stored is still shown. */
  offline = $state<string | null>(null);
  error = $state<HallmarkError | null>(null);
  /** Where the last CSV was written. */
  exported = $state<string | null>(null);

  #api: EarningsApi;

  constructor(api: EarningsApi) {
    this.#api = api;
  }

  /** Lists the marketplaces joined and shows what is stored from the first (or the one shown). */
  async load(): Promise<void> {
    this.error = null;
    try {
      this.marketplaces = await this.#api.marketplaces();
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
      this.status = 'failed';
      return;
    }
    const origin = this.marketplaces.some((m) => m.origin === this.origin)
      ? this.origin
      : (this.marketplaces[0]?.origin ?? null);
    this.origin = origin;
    if (origin === null) {
      this.status = 'no_marketplace';
      return;
    }
    await this.#show(origin);
  }

  async choose(origin: string): Promise<void> {
    this.origin = origin;
    this.offline = null;
    this.exported = null;
    await this.#show(origin);
  }

  async setStep(step: EarningsStep): Promise<void> {
    this.step = step;
    if (this.origin) await this.#show(this.origin);
  }

  async #show(origin: string): Promise<void> {
    try {
      const view = await this.#api.earningsView(origin, this.step);
      if (this.origin !== origin) return;
      this.view = view;
      this.status = view ? 'ready' : 'empty';
    } catch (thrown) {
      if (this.origin !== origin) return;
      this.error = HallmarkError.from(thrown);
      this.status = 'failed';
    }
  }

  /** Fetches what is new from the marketplace; offline, the stored earnings stay on screen. */
  async refresh(): Promise<void> {
    const origin = this.origin;
    if (!origin || this.refreshing) return;
    this.refreshing = true;
    this.error = null;
    try {
      const view = await this.#api.refreshEarnings(origin, this.step);
      if (this.origin !== origin) return;
      this.view = view;
      this.status = 'ready';
      this.offline = null;
    } catch (thrown) {
      if (this.origin !== origin) return;
      const error = HallmarkError.from(thrown);
      if (error.code === 'offline') {
        this.offline = error.message;
      } else {
        this.error = error;
      }
    } finally {
      this.refreshing = false;
    }
  }

  async exportCsv(): Promise<void> {
    if (!this.origin) return;
    this.error = null;
    try {
      const path = await this.#api.exportEarnings(this.origin);
      if (path !== null) this.exported = path;
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    }
  }
}

/** "2026-W48" → "Week 48, 2026"; days and months stay as they are (ISO 8601, UTC). */
export function periodLabel(group: string): string {
  const week = /^(\d{4})-W(\d{2})$/.exec(group);
  return week ? `Week ${Number(week[2])}, ${week[1]}` : group;
}
