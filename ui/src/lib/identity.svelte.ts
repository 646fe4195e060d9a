// The creator's signing identities: loading them, creating or restoring one, backing one up.
import type { IdentityApi } from './api';
import type { CreatorCredential, Identity } from './bindings';
import { HallmarkError } from './errors';

export class IdentitySession {
  identities = $state<Identity[]>([]);
  loaded = $state(false);
  busy = $state(false);
  error = $state<HallmarkError | null>(null);
  /** The creator chose "Not now" on the first-run screen. */
  later = $state(false);
  /** The identity created or restored in this session, shown with the nudge to back it up. */
  fresh = $state<Identity | null>(null);
  backedUp = $state<string | null>(null);
  /** Why the keyring could not be read (locked, dismissed, missing): not a first run. */
  unavailable = $state<HallmarkError | null>(null);
  /** Creator credentials from marketplaces, each checked when listed. */
  credentials = $state<CreatorCredential[]>([]);
  /** Why the last credential import failed (shown with the credentials, not the identity). */
  credentialError = $state<HallmarkError | null>(null);

  #api: IdentityApi;

  constructor(api: IdentityApi) {
    this.#api = api;
  }

  /** The identity to sign with (the Rust side picks it: the newest one not replaced). */
  get current(): Identity | null {
    return this.identities.find((i) => i.current) ?? null;
  }

  /** The identity that just replaced another (shown with the nudge to back it up). */
  rotated = $state<Identity | null>(null);

  /** Whether to greet the creator with the first-run screen. */
  get firstRun(): boolean {
    return (
      this.loaded &&
      this.unavailable === null &&
      !this.later &&
      (this.identities.length === 0 || this.fresh !== null)
    );
  }

  /** Reads the identities; a keyring that cannot be read is said as such (and retried), never
   * taken for a keyring with no identity in it. */
  async load(): Promise<void> {
    try {
      this.identities = await this.#api.identities();
      this.unavailable = null;
    } catch (thrown) {
      this.unavailable = HallmarkError.from(thrown);
      this.loaded = true;
      return;
    }
    try {
      this.credentials = await this.#api.creatorCredentials();
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    } finally {
      this.loaded = true;
    }
  }

  /** Goes on without the keyring (to look around); signing stays unavailable. */
  continueWithout(): void {
    this.unavailable = null;
    this.later = true;
  }

  async create(name: string): Promise<void> {
    await this.#run(async () => {
      this.fresh = await this.#api.createIdentity(name);
      this.identities = await this.#api.identities();
    });
  }

  async restore(path: string, passphrase: string): Promise<void> {
    await this.#run(async () => {
      this.fresh = await this.#api.restoreIdentity(path.trim(), passphrase);
      this.identities = await this.#api.identities();
    });
  }

  async backup(did: string, path: string, passphrase: string): Promise<void> {
    await this.#run(async () => {
      await this.#api.backupIdentity(did, path.trim(), passphrase);
      this.backedUp = path.trim();
    });
  }

  /** Replaces `did` with a new key of the same name; the old one stays, marked replaced. */
  async rotate(did: string): Promise<void> {
    await this.#run(async () => {
      this.rotated = await this.#api.rotateIdentity(did);
      this.identities = await this.#api.identities();
    });
  }

  /** Deletes `did`; `confirmation` is its name as the creator typed it. True when deleted. */
  async remove(did: string, confirmation: string): Promise<boolean> {
    let deleted = false;
    await this.#run(async () => {
      await this.#api.deleteIdentity(did, confirmation);
      deleted = true;
      if (this.rotated?.did === did) this.rotated = null;
      this.identities = await this.#api.identities();
    });
    return deleted;
  }

  /** Asks where to save a backup with the native dialog; null when it was closed. */
  async chooseBackupPath(name: string): Promise<string | null> {
    try {
      return await this.#api.pickBackupPath(name);
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
      return null;
    }
  }

  async importCredential(path: string, marketplace: string): Promise<void> {
    this.busy = true;
    this.credentialError = null;
    try {
      await this.#api.importCreatorCredential(path, marketplace);
      this.credentials = await this.#api.creatorCredentials();
    } catch (thrown) {
      this.credentialError = HallmarkError.from(thrown);
    } finally {
      this.busy = false;
    }
  }

  /** Leaves the first-run screen. */
  done(): void {
    this.fresh = null;
    this.later = true;
  }

  async #run(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.error = null;
    try {
      await work();
    } catch (thrown) {
      this.error = HallmarkError.from(thrown);
    } finally {
      this.busy = false;
    }
  }
}
