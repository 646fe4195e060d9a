// State of sealing a folder: the creator's choices, the running job, and the sealed result.
import type { SealApi } from './api';
import type { DatasetChanges, JobProgress, SealedDataset, Verdict } from './bindings';
import { HallmarkError } from './errors';
import { folderName } from './format';
import { newJobId } from './jobs';

export type SealStatus = 'editing' | 'sealing' | 'sealed' | 'failed';

/** Licenses most creators pick, as SPDX ids; any other SPDX expression can be typed. */
export const COMMON_LICENSES: readonly { id: string; label: string }[] = [
  { id: 'CC-BY-4.0', label: 'CC BY 4.0 — use with credit' },
  { id: 'CC-BY-NC-4.0', label: 'CC BY-NC 4.0 — credit, no commercial use' },
  { id: 'CC-BY-SA-4.0', label: 'CC BY-SA 4.0 — credit, share alike' },
  { id: 'CC0-1.0', label: 'CC0 1.0 — no rights reserved' },
];

export const SHARD_SIZES: readonly { bytes: number; label: string }[] = [
  { bytes: 64 * 1024 * 1024, label: '64 MiB (recommended)' },
  { bytes: 4 * 1024 * 1024, label: '4 MiB micro-shards (edge caching, per-access metering)' },
  { bytes: 1024 * 1024 * 1024, label: '1 GiB (large training runs)' },
];

export class SealSession {
  name = $state('');
  creator = $state('');
  license = $state('CC-BY-4.0');
  description = $state('');
  shardSize = $state(SHARD_SIZES[0]?.bytes ?? 64 * 1024 * 1024);
  status = $state<SealStatus>('editing');
  progress = $state<JobProgress | null>(null);
  sealed = $state<SealedDataset | null>(null);
  error = $state<HallmarkError | null>(null);
  /** How the folder differs from the seal shown, kept up to date while it is on screen. */
  changes = $state<DatasetChanges | null>(null);
  /** The last sign or verify result for the sealed dataset. */
  verdict = $state<Verdict | null>(null);
  checking = $state(false);

  #api: SealApi;
  #jobId: string | null = null;
  #folder = '';

  constructor(api: SealApi) {
    this.#api = api;
  }

  /** Starts over for a newly opened folder, naming the dataset after it. */
  reset(folder: string): void {
    if (folder === this.#folder) return;
    this.#folder = folder;
    this.name = folderName(folder);
    this.status = 'editing';
    this.sealed = null;
    this.error = null;
    this.changes = null;
    this.verdict = null;
  }

  /** What is missing before sealing can start, in words; empty when ready. */
  get missing(): string[] {
    const missing: string[] = [];
    if (this.name.trim() === '') missing.push('a dataset name');
    if (this.creator.trim() === '') missing.push('who made the work');
    if (this.license.trim() === '') missing.push('a license');
    return missing;
  }

  async seal(): Promise<void> {
    if (this.missing.length > 0) {
      this.error = new HallmarkError('invalid_input', `Before sealing, add ${this.missing.join(' and ')}.`);
      this.status = 'failed';
      return;
    }
    const jobId = newJobId('seal');
    this.#jobId = jobId;
    this.status = 'sealing';
    this.error = null;
    this.progress = null;
    try {
      const sealed = await this.#api.sealDataset(
        {
          path: this.#folder,
          out: null,
          name: this.name.trim(),
          description: this.description.trim() || null,
          license: this.license.trim(),
          creator: this.creator.trim(),
          shardSize: this.shardSize,
        },
        jobId,
        (p) => {
          if (this.#jobId === jobId) this.progress = p;
        },
      );
      if (this.#jobId !== jobId) return;
      this.sealed = sealed;
      this.status = 'sealed';
      this.changes = null;
      this.verdict = null;
      await this.#watch(sealed.out);
    } catch (thrown) {
      if (this.#jobId !== jobId) return;
      const error = HallmarkError.from(thrown);
      this.status = error.cancelled ? (this.sealed ? 'sealed' : 'editing') : 'failed';
      this.error = error.cancelled ? null : error;
    } finally {
      if (this.#jobId === jobId) {
        this.#jobId = null;
        this.progress = null;
      }
    }
  }

  async #watch(out: string): Promise<void> {
    try {
      await this.#api.watchSealedFolder(out, (changes) => {
        if (this.sealed?.out === out) this.changes = changes;
      });
    } catch {
      // Without a watch the creator just does not see live changes; the seal itself stands.
      this.changes = null;
    }
  }

  /** Signs the sealed dataset with the creator's identity (`did`, or the only one). */
  async sign(did: string | null): Promise<void> {
    await this.#check((out) => this.#api.signSealed(out, did));
  }

  /** Checks the sealed dataset's credential and every file against the folder. */
  async verify(): Promise<void> {
    await this.#check((out) => this.#api.verifySealed(out, this.#folder));
  }

  async #check(run: (out: string) => Promise<Verdict>): Promise<void> {
    if (!this.sealed) return;
    this.checking = true;
    this.error = null;
    try {
      this.verdict = await run(this.sealed.out);
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    } finally {
      this.checking = false;
    }
  }

  async cancel(): Promise<void> {
    if (this.#jobId) await this.#api.cancelJob(this.#jobId);
  }
}
