// State of the creator's list of datasets on the Datasets screen.
import type { LibraryApi } from './api';
import type { DatasetEntry } from './bindings';
import { HallmarkError } from './errors';

export class LibrarySession {
  datasets = $state<DatasetEntry[]>([]);
  error = $state<HallmarkError | null>(null);

  #api: LibraryApi;

  constructor(api: LibraryApi) {
    this.#api = api;
  }

  async load(): Promise<void> {
    try {
      this.datasets = await this.#api.datasets();
      this.error = null;
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    }
  }

  async forget(out: string): Promise<void> {
    try {
      await this.#api.forgetDataset(out);
      await this.load();
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    }
  }
}

/** The state of a dataset in words, for its badge. */
export function stateWords(entry: DatasetEntry): string {
  if (entry.problem) return 'Cannot be read';
  switch (entry.signature) {
    case 'signed':
      return 'Sealed and signed';
    case 'signed_for_earlier_seal':
      return 'Sealed — sign again';
    default:
      return 'Sealed, not signed';
  }
}
