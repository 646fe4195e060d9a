// State of sealing a folder: the creator's choices, the running job, and the sealed result.
import type { SealApi } from './api';
import type { Consent, DatasetChanges, JobProgress, Permission, PreviousSeal, SealedDataset, Signature, Verdict } from './bindings';
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

/** The four uses of a creator's work that the terms cover, in the order the form asks. */
export type Use = 'aiTraining' | 'aiGenerativeTraining' | 'aiInference' | 'dataMining';

/** Each use, named and explained in one plain line. */
export const USES: readonly { key: Use; label: string; explain: string }[] = [
  {
    key: 'aiTraining',
    label: 'AI training',
    explain: 'Teaching AI models from your work, for example to recognise, sort or describe things.',
  },
  {
    key: 'aiGenerativeTraining',
    label: 'Generative AI training',
    explain: 'Teaching AI that makes new pictures, sounds or texts in the style of your work.',
  },
  {
    key: 'aiInference',
    label: 'AI inference',
    explain: 'An AI reading your work while it answers someone, for example looking it up to quote or summarise it.',
  },
  {
    key: 'dataMining',
    label: 'Data mining',
    explain: 'Computers analysing, searching or counting your work (statistics, search indexes), without teaching AI.',
  },
];

/** The answers for each use, in the words the form and the summary use. */
export const PERMISSIONS: readonly { value: Permission; label: string }[] = [
  { value: 'allowed', label: 'Allowed' },
  { value: 'not_allowed', label: 'Not allowed' },
  { value: 'constrained', label: 'Allowed with conditions' },
];

/** A permission in words: "Allowed", "Not allowed", "Allowed with conditions". */
export function permissionWords(permission: Permission): string {
  return PERMISSIONS.find((p) => p.value === permission)?.label ?? permission;
}

/** "a", "a and b", "a, b and c". */
function listWords(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function noTerms(): Record<Use, Permission | null> {
  return { aiTraining: null, aiGenerativeTraining: null, aiInference: null, dataMining: null };
}

export class SealSession {
  name = $state('');
  creator = $state('');
  /** Who made the work unless the creator types otherwise: their identity's name. */
  defaultCreator = '';
  /** The shard size a folder never sealed starts with (the creator's default, from Settings). */
  defaultShardSize = SHARD_SIZES[0]?.bytes ?? 64 * 1024 * 1024;
  license = $state('CC-BY-4.0');
  description = $state('');
  version = $state('1.0.0');
  /** An output folder the creator typed; empty for the folder's own one in Hallmark's data folder. */
  out = $state('');
  /** The creator's answer for each use; nothing is chosen for them. */
  terms = $state<Record<Use, Permission | null>>(noTerms());
  /** The creator's conditions, for the uses allowed with conditions. */
  constraints = $state('');
  /** What the folder's last seal said, when it was sealed before (the form is filled in from it). */
  previous = $state<PreviousSeal | null>(null);
  /** The creator pressed Seal with something missing: the form marks what. */
  attempted = $state(false);
  shardSize = $state(SHARD_SIZES[0]?.bytes ?? 64 * 1024 * 1024);
  status = $state<SealStatus>('editing');
  /** Said once after the creator cancelled a seal. */
  notice = $state<string | null>(null);
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

  /**
   * Starts over for a newly opened folder, naming the dataset after it; when the folder was sealed
   * before (into `out`, or its own output folder), fills the form in with what that seal said,
   * terms included, and shows the seal again.
   */
  async reset(folder: string, out: string | null = null): Promise<void> {
    if (folder === this.#folder && (out === null || out === this.sealed?.out)) return;
    this.#folder = folder;
    this.name = folderName(folder);
    if (this.creator.trim() === '') this.creator = this.defaultCreator;
    this.version = '1.0.0';
    if (SHARD_SIZES.some((s) => s.bytes === this.defaultShardSize)) this.shardSize = this.defaultShardSize;
    this.out = out ?? '';
    this.terms = noTerms();
    this.constraints = '';
    this.previous = null;
    this.attempted = false;
    this.status = 'editing';
    this.sealed = null;
    this.error = null;
    this.changes = null;
    this.verdict = null;
    let previous: PreviousSeal | null;
    try {
      previous = await this.#api.previousSeal(folder, out);
    } catch {
      // A seal Hallmark cannot read back is sealed again from scratch: the form just starts empty.
      return;
    }
    if (!previous || this.#folder !== folder || this.status !== 'editing') return;
    this.#fillIn(previous);
    // The seal itself is shown again, as it stands (signed or not), and watched for changes.
    try {
      const sealed = await this.#api.openDataset(previous.out);
      if (this.#folder !== folder || this.status !== 'editing') return;
      this.sealed = sealed;
      this.status = 'sealed';
      await this.#watch(sealed.out);
    } catch (thrown) {
      // A seal that cannot be read back is said; sealing again writes it anew.
      if (this.#folder === folder) this.error = HallmarkError.from(thrown);
    }
  }

  #fillIn(previous: PreviousSeal): void {
    this.previous = previous;
    this.name = previous.name;
    this.creator = previous.creator;
    this.license = previous.license;
    this.version = previous.version;
    if (SHARD_SIZES.some((s) => s.bytes === previous.shardSize)) this.shardSize = previous.shardSize;
    const { constraints, ...terms } = previous.consent;
    this.terms = terms;
    this.constraints = constraints ?? '';
  }

  /** Whether any use is allowed with conditions, so the form asks for them. */
  get needsConstraints(): boolean {
    return USES.some((use) => this.terms[use.key] === 'constrained');
  }

  /** The uses the creator has not answered yet. */
  get unanswered(): Use[] {
    return USES.filter((use) => this.terms[use.key] === null).map((use) => use.key);
  }

  /** What is missing before sealing can start, in words; empty when ready. */
  get missing(): string[] {
    const missing: string[] = [];
    if (this.name.trim() === '') missing.push('a dataset name');
    if (this.creator.trim() === '') missing.push('who made the work');
    if (this.license.trim() === '') missing.push('a license');
    if (this.version.trim() === '') missing.push('a version');
    const unanswered = this.unanswered;
    if (unanswered.length === USES.length) {
      missing.push('your answer for each use of your work');
    } else if (unanswered.length > 0) {
      const labels = USES.filter((use) => unanswered.includes(use.key)).map((use) => use.label);
      missing.push(`your answer for ${listWords(labels)}`);
    }
    if (this.needsConstraints && this.constraints.trim() === '') missing.push('your conditions');
    return missing;
  }

  /** The terms as the seal request sends them; null until every use is answered. */
  get consent(): Consent | null {
    const { aiTraining, aiGenerativeTraining, aiInference, dataMining } = this.terms;
    if (aiTraining === null || aiGenerativeTraining === null || aiInference === null || dataMining === null) {
      return null;
    }
    const constraints = this.needsConstraints ? this.constraints.trim() : '';
    return { aiTraining, aiGenerativeTraining, aiInference, dataMining, constraints: constraints || null };
  }

  /**
   * Whether the dataset on screen is signed: the last verdict's word, else the seal's. A reseal that
   * changed the dataset leaves it "signed for an earlier seal".
   */
  get signature(): Signature | null {
    return this.verdict?.signature ?? this.sealed?.signature ?? null;
  }

  async seal(): Promise<void> {
    const consent = this.consent;
    if (this.missing.length > 0 || consent === null) {
      this.attempted = true;
      this.error = new HallmarkError('invalid_input', `Before sealing, add ${listWords(this.missing)}.`);
      this.status = 'failed';
      return;
    }
    const jobId = newJobId('seal');
    this.#jobId = jobId;
    this.status = 'sealing';
    this.error = null;
    this.notice = null;
    this.progress = null;
    try {
      const sealed = await this.#api.sealDataset(
        {
          path: this.#folder,
          out: this.out.trim() || null,
          name: this.name.trim(),
          description: this.description.trim() || null,
          license: this.license.trim(),
          creator: this.creator.trim(),
          version: this.version.trim(),
          consent,
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
      if (error.cancelled) {
        this.notice = this.sealed
          ? 'Sealing cancelled: the seal shown is the one from before, unchanged.'
          : 'Sealing cancelled: nothing was written.';
      }
      // Sealing stops the watch; the seal still on screen is watched again.
      if (this.sealed) await this.#watch(this.sealed.out);
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
        if (this.sealed?.out !== out) return;
        this.changes = changes;
        // "Valid" on files that changed since is no longer true: it is not shown next to them (a
        // verdict naming differences still says what it found).
        if (changes.added + changes.modified + changes.removed > 0 && this.verdict?.valid) this.verdict = null;
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
