// State of the Publish screen: joining a marketplace, the terms, and a publish with progress, pause and resume.
import type { PublishApi } from './api';
import type { InterruptedPublish, JobProgress, Marketplace, MarketplaceCheck, PublishResult } from './bindings';
import { HallmarkError } from './errors';
import { newJobId } from './jobs';

export type PublishStatus = 'idle' | 'publishing' | 'paused' | 'published' | 'failed';

/** Upload speed limits offered, in bytes per second (decimal megabytes, as sizes are shown). */
export const LIMITS: readonly { value: number | null; label: string }[] = [
  { value: null, label: 'No limit' },
  { value: 1_000_000, label: '1 MB/s' },
  { value: 5_000_000, label: '5 MB/s' },
  { value: 20_000_000, label: '20 MB/s' },
];

/** Currencies offered first; any ISO 4217 code can be typed. */
export const CURRENCIES: readonly string[] = ['EUR', 'USD', 'GBP', 'CHF', 'JPY'];

export class PublishSession {
  marketplaces = $state<Marketplace[]>([]);
  /** The marketplace to publish to. */
  origin = $state<string | null>(null);
  /** The join form: where, and the name buyers see. */
  joinUrl = $state('');
  joinName = $state('');
  joining = $state(false);
  price = $state('0.002');
  /** An upload speed limit in bytes per second; null for none. */
  limit = $state<number | null>(null);
  currency = $state('EUR');
  status = $state<PublishStatus>('idle');
  progress = $state<JobProgress | null>(null);
  /** Bytes per second over the current run, and seconds left; null until known. */
  rate = $state<number | null>(null);
  secondsLeft = $state<number | null>(null);
  result = $state<PublishResult | null>(null);
  /** Publishes started before that no marketplace listed yet (offered for resuming). */
  interrupted = $state<InterruptedPublish[]>([]);
  /** The output folder being published, when it is not the dataset open on Datasets. */
  resuming = $state<string | null>(null);
  /** Each marketplace's key as last checked against the pinned one, by origin. */
  checks = $state<Record<string, MarketplaceCheck>>({});
  error = $state<HallmarkError | null>(null);

  #api: PublishApi;
  #jobId: string | null = null;
  #pausing = false;
  #started: { at: number; bytes: number } | null = null;
  #now: () => number;

  constructor(api: PublishApi, now: () => number = () => Date.now()) {
    this.#api = api;
    this.#now = now;
  }

  async load(): Promise<void> {
    try {
      const [local, marketplaces, interrupted] = await Promise.all([
        this.#api.localMarketplace(),
        this.#api.marketplaces(),
        this.#api.interruptedPublishes(),
      ]);
      this.marketplaces = marketplaces;
      if (this.status !== 'publishing') this.interrupted = interrupted;
      if (this.joinUrl === '') this.joinUrl = local;
      if (!this.origin || !marketplaces.some((m) => m.origin === this.origin)) {
        this.origin = marketplaces[0]?.origin ?? null;
      }
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    }
  }

  /** Checks the key of the marketplace at `origin` against the one pinned when joining. */
  async check(origin: string): Promise<void> {
    try {
      this.checks = { ...this.checks, [origin]: await this.#api.checkMarketplace(origin) };
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    }
  }

  /** Joins the marketplace in the join form with the identity `did`. */
  async join(did: string | null): Promise<void> {
    if (this.joining) return;
    this.joining = true;
    this.error = null;
    try {
      const joined = await this.#api.joinMarketplace(this.joinUrl.trim(), this.joinName.trim(), did);
      this.marketplaces = [...this.marketplaces.filter((m) => m.origin !== joined.origin), joined];
      this.origin = joined.origin;
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    } finally {
      this.joining = false;
    }
  }

  /** Publishes (or resumes publishing) the signed dataset in `out`. */
  async publish(out: string): Promise<void> {
    const origin = this.origin;
    if (!origin || this.status === 'publishing') return;
    const jobId = newJobId('publish');
    this.#jobId = jobId;
    this.#pausing = false;
    this.#started = null;
    this.status = 'publishing';
    this.error = null;
    this.result = null;
    this.rate = null;
    this.secondsLeft = null;
    try {
      const result = await this.#api.publishDataset(
        {
          out,
          source: null,
          origin,
          price: this.price.trim() || null,
          currency: this.currency.trim() || null,
          maxBytesPerSecond: this.limit,
        },
        jobId,
        (p) => {
          if (this.#jobId === jobId) this.#track(p);
        },
      );
      if (this.#jobId !== jobId) return;
      this.result = result;
      this.status = 'published';
    } catch (thrown) {
      if (this.#jobId !== jobId) return;
      const error = HallmarkError.from(thrown);
      if (error.cancelled) {
        this.status = this.#pausing ? 'paused' : 'idle';
      } else {
        this.status = 'failed';
        this.error = error;
      }
    } finally {
      if (this.#jobId === jobId) this.#jobId = null;
    }
  }

  #track(p: JobProgress): void {
    this.progress = p;
    const at = this.#now();
    if (this.#started === null) {
      this.#started = { at, bytes: p.bytesDone };
      return;
    }
    const seconds = (at - this.#started.at) / 1000;
    const sent = p.bytesDone - this.#started.bytes;
    if (seconds >= 0.5 && sent > 0) {
      this.rate = sent / seconds;
      this.secondsLeft = p.bytesTotal !== null ? Math.max(0, (p.bytesTotal - p.bytesDone) / this.rate) : null;
    }
  }

  /** Resumes an interrupted publish with the terms it was started with. */
  async resume(item: InterruptedPublish): Promise<void> {
    this.origin = item.origin;
    this.price = item.price;
    this.currency = item.currency;
    this.resuming = item.out;
    await this.publish(item.out);
    if (this.status === 'published') {
      this.interrupted = this.interrupted.filter((i) => !(i.out === item.out && i.origin === item.origin));
    }
  }

  /** Stops the upload; what the marketplace confirmed is kept, and Resume continues from there. */
  async pause(): Promise<void> {
    if (!this.#jobId) return;
    this.#pausing = true;
    await this.#api.cancelJob(this.#jobId);
  }

  /** Stops the upload and goes back to the start (what was confirmed is still kept). */
  async cancel(): Promise<void> {
    if (!this.#jobId) return;
    this.#pausing = false;
    await this.#api.cancelJob(this.#jobId);
  }
}

/** "2 min 5 s left", "12 s left". */
export function timeLeft(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s left`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s left` : `${Math.floor(m / 60)} h ${m % 60} min left`;
}
