// State of the folder a creator is working on: choosing it, summarising it with progress, recent folders.
import type { FolderApi } from './api';
import type { FolderSummary, JobProgress, RecentFolder } from './bindings';
import { HallmarkError } from './errors';

export type FolderStatus = 'idle' | 'scanning' | 'ready' | 'failed';

import { newJobId } from './jobs';

export class FolderSession {
  /** What is in the path field. */
  path = $state('');
  status = $state<FolderStatus>('idle');
  progress = $state<JobProgress | null>(null);
  summary = $state<FolderSummary | null>(null);
  error = $state<HallmarkError | null>(null);
  recent = $state<RecentFolder[]>([]);

  #api: FolderApi;
  #jobId: string | null = null;

  constructor(api: FolderApi) {
    this.#api = api;
  }

  /** Summarises the folder in the path field (or `path`), keeping the last good summary until it succeeds. */
  async open(path: string = this.path): Promise<void> {
    const trimmed = path.trim();
    this.path = trimmed;
    if (trimmed === '') {
      this.error = new HallmarkError('invalid_input', 'type the path of a folder, or choose one with “Open folder…”');
      this.status = 'failed';
      return;
    }
    const jobId = newJobId('summary');
    this.#jobId = jobId;
    this.status = 'scanning';
    this.error = null;
    this.progress = null;
    try {
      const summary = await this.#api.summarizeFolder(trimmed, jobId, (p) => {
        if (this.#jobId === jobId) this.progress = p;
      });
      if (this.#jobId !== jobId) return;
      this.summary = summary;
      this.path = summary.root;
      this.status = 'ready';
      await this.loadRecent();
    } catch (thrown) {
      if (this.#jobId !== jobId) return;
      const error = HallmarkError.from(thrown);
      // A cancelled scan leaves the previous summary (if any) on screen, as if nothing happened.
      this.status = error.cancelled ? (this.summary ? 'ready' : 'idle') : 'failed';
      this.error = error.cancelled ? null : error;
    } finally {
      if (this.#jobId === jobId) {
        this.#jobId = null;
        this.progress = null;
      }
    }
  }

  /** Asks the running scan to stop. */
  async cancel(): Promise<void> {
    if (this.#jobId) await this.#api.cancelJob(this.#jobId);
  }

  /** Opens the native folder dialog, then the chosen folder. */
  async browse(): Promise<void> {
    try {
      const chosen = await this.#api.pickFolder();
      if (chosen !== null) await this.open(chosen);
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
      this.status = 'failed';
    }
  }

  async loadRecent(): Promise<void> {
    try {
      this.recent = await this.#api.recentFolders();
    } catch {
      // The recent list is a convenience; a damaged one must not block the creator.
      this.recent = [];
    }
  }

  async forget(path: string): Promise<void> {
    this.recent = await this.#api.forgetRecentFolder(path);
  }
}
