// State of the Review step: reading the opened folder for what should not leave, and the creator's decisions.
import type { ReviewApi } from './api';
import type { FindingDecision, FindingKind, FindingSeverity, JobProgress, ReviewFinding, ReviewReport } from './bindings';
import { HallmarkError } from './errors';
import { newJobId } from './jobs';

export type ReviewStatus = 'idle' | 'reviewing' | 'reviewed' | 'failed';

/** Each severity as the Review step heads it, most severe first. */
export const SEVERITIES: readonly { value: FindingSeverity; label: string; explain: string }[] = [
  {
    value: 'high',
    label: 'Needs your decision',
    explain: 'Could harm you or someone else if it left your computer.',
  },
  { value: 'medium', label: 'Worth a look', explain: 'Names, serial numbers or files that do not open.' },
  { value: 'low', label: 'Quality', explain: 'Copies and misleading file names; buyers notice them.' },
];

/** Each kind of finding in a few words. */
export const KIND_TITLES: Record<FindingKind, string> = {
  location: 'Location in a photo',
  serial_numbers: 'Camera or lens serial number',
  people_names: 'Names in file details',
  personal_data: 'Personal data in text',
  broken: 'File does not open',
  wrong_extension: 'File name does not match its content',
  duplicates: 'Identical files',
  near_duplicates: 'Near-identical images',
};

/** What "leave out" leaves out for a finding: duplicates keep their first file. */
export function excludeLabel(finding: ReviewFinding): string {
  return finding.kind === 'duplicates' || finding.kind === 'near_duplicates' ? 'Leave out the copies' : 'Leave out';
}

export class ReviewSession {
  status = $state<ReviewStatus>('idle');
  progress = $state<JobProgress | null>(null);
  report = $state<ReviewReport | null>(null);
  error = $state<HallmarkError | null>(null);
  /** The finding ids a decision is being recorded for. */
  deciding = $state<string[]>([]);

  #api: ReviewApi;
  #jobId: string | null = null;
  #folder = '';
  #out: string | null = null;

  constructor(api: ReviewApi) {
    this.#api = api;
  }

  /** Starts over for an opened folder, showing its last review (with decisions) if it had one. */
  async load(folder: string, out: string | null): Promise<void> {
    const target = out?.trim() || null;
    if (folder === this.#folder && target === this.#out) return;
    this.#folder = folder;
    this.#out = target;
    // A review of the folder left behind is of no use now.
    if (this.#jobId) void this.#api.cancelJob(this.#jobId);
    this.#jobId = null;
    this.status = 'idle';
    this.report = null;
    this.error = null;
    this.progress = null;
    try {
      const last = await this.#api.lastReview(folder, target);
      if (this.#folder === folder && this.#out === target && this.status === 'idle' && last) {
        this.report = last;
        this.status = 'reviewed';
      }
    } catch (thrown) {
      // A damaged record is said, and reviewing again writes a new one.
      if (this.#folder === folder) this.error = HallmarkError.from(thrown);
    }
  }

  /** Reads every file of the folder; earlier decisions stay. */
  async review(): Promise<void> {
    if (this.#folder === '' || this.status === 'reviewing') return;
    const jobId = newJobId('review');
    this.#jobId = jobId;
    this.status = 'reviewing';
    this.error = null;
    this.progress = null;
    try {
      const report = await this.#api.reviewFolder(this.#folder, this.#out, jobId, (p) => {
        if (this.#jobId === jobId) this.progress = p;
      });
      if (this.#jobId !== jobId) return;
      this.report = report;
      this.status = 'reviewed';
    } catch (thrown) {
      if (this.#jobId !== jobId) return;
      const error = HallmarkError.from(thrown);
      // A cancelled review leaves the last one (if any) on screen.
      this.status = error.cancelled ? (this.report ? 'reviewed' : 'idle') : 'failed';
      this.error = error.cancelled ? null : error;
    } finally {
      if (this.#jobId === jobId) {
        this.#jobId = null;
        this.progress = null;
      }
    }
  }

  async cancel(): Promise<void> {
    if (this.#jobId) await this.#api.cancelJob(this.#jobId);
  }

  /** Records the creator's decision on findings (`open` takes one back). */
  async decide(ids: string[], decision: FindingDecision): Promise<void> {
    if (ids.length === 0 || !this.report) return;
    const folder = this.#folder;
    this.deciding = ids;
    this.error = null;
    try {
      const report = await this.#api.decideFindings(folder, this.#out, ids, decision);
      if (this.#folder === folder) this.report = report;
    } catch (thrown) {
      if (this.#folder === folder) this.error = HallmarkError.from(thrown);
    } finally {
      this.deciding = [];
    }
  }

  /** The findings shown, by severity, most severe first; severities without findings left out. */
  get groups(): { severity: (typeof SEVERITIES)[number]; findings: ReviewFinding[] }[] {
    const findings = this.report?.findings ?? [];
    return SEVERITIES.map((severity) => ({
      severity,
      findings: findings.filter((f) => f.severity === severity.value),
    })).filter((group) => group.findings.length > 0);
  }

  /** The open findings of `kind` shown, for deciding them all at once. */
  openOfKind(kind: FindingKind): string[] {
    return (this.report?.findings ?? []).filter((f) => f.kind === kind && f.decision === 'open').map((f) => f.id);
  }

  /** Files left out at the next seal: those of excluded findings (for copies, all but the first). */
  get excludedFiles(): number {
    return (this.report?.findings ?? [])
      .filter((f) => f.decision === 'excluded')
      .reduce(
        (sum, f) => sum + (f.kind === 'duplicates' || f.kind === 'near_duplicates' ? f.filesTotal - 1 : f.filesTotal),
        0,
      );
  }
}
