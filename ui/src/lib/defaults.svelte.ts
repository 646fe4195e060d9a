// The defaults every new dataset starts from: shard size and files to leave out, set in Settings.
import type { DefaultsApi } from './api';
import type { StudioDefaults } from './bindings';
import { HallmarkError } from './errors';

/** What Hallmark starts from before the creator saves their own (as the Rust side's built-ins). */
export const BUILT_IN: StudioDefaults = { shardSize: 64 * 1024 * 1024, excludes: [] };

export class DefaultsSession {
  value = $state<StudioDefaults>(BUILT_IN);
  busy = $state(false);
  error = $state<HallmarkError | null>(null);
  /** True right after a save, until the next change. */
  saved = $state(false);

  #api: DefaultsApi;

  constructor(api: DefaultsApi) {
    this.#api = api;
  }

  async load(): Promise<void> {
    try {
      this.value = await this.#api.studioDefaults();
      this.error = null;
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    }
  }

  /** Saves a shard size and the patterns typed one per line (blank lines dropped). */
  async save(shardSize: number, excludesText: string): Promise<void> {
    this.busy = true;
    this.saved = false;
    this.error = null;
    try {
      const excludes = excludesText
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '');
      this.value = await this.#api.saveStudioDefaults({ shardSize, excludes });
      this.saved = true;
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    } finally {
      this.busy = false;
    }
  }
}
