// Unit tests of the Review step's state: loading the last review, reviewing with progress and cancel, decisions.
import { describe, expect, it } from 'vitest';
import type { ReviewApi } from './api';
import type { FindingDecision, JobProgress, ReviewFinding, ReviewReport } from './bindings';
import { HallmarkError } from './errors';
import { ReviewSession } from './review.svelte';

function finding(id: string, kind: ReviewFinding['kind'], severity: ReviewFinding['severity'], files: string[]): ReviewFinding {
  return {
    id, kind, severity, files, filesTotal: files.length, what: `${kind} in ${files[0]}`, advice: 'look at it',
    count: null, occurrences: [], decision: 'open',
  };
}

function report(findings: ReviewFinding[]): ReviewReport {
  const open = findings.filter((f) => f.decision === 'open');
  return {
    root: '/w/shoot', out: '/data/shoot-1', files: 9, bytes: 900, findings, findingsTotal: findings.length,
    open: open.length, openHigh: open.filter((f) => f.severity === 'high').length,
    statistics: { files: 9, bytes: 900, reviewedFiles: 9, media: [] },
  };
}

class FakeReviewApi implements ReviewApi {
  last: ReviewReport | null = null;
  current = report([
    finding('f-gps', 'location', 'high', ['a.jpg']),
    finding('f-dup', 'duplicates', 'low', ['a.txt', 'b.txt', 'c.txt']),
    finding('f-mail', 'personal_data', 'high', ['notes.txt']),
  ]);
  decisions: { ids: string[]; decision: FindingDecision; out: string | null }[] = [];
  cancelled: string[] = [];
  finish: ((r: ReviewReport) => void) | null = null;
  fail: ((e: unknown) => void) | null = null;
  progress: ((p: JobProgress) => void) | null = null;
  jobId = '';
  outs: (string | null)[] = [];

  async lastReview(_path: string, out: string | null) {
    this.outs.push(out);
    return this.last;
  }
  reviewFolder(_path: string, out: string | null, jobId: string, onProgress: (p: JobProgress) => void) {
    this.outs.push(out);
    this.jobId = jobId;
    this.progress = onProgress;
    return new Promise<ReviewReport>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
  }
  async decideFindings(_path: string, out: string | null, ids: string[], decision: FindingDecision) {
    this.decisions.push({ ids, decision, out });
    const findings = this.current.findings.map((f) => (ids.includes(f.id) ? { ...f, decision } : f));
    this.current = report(findings);
    return this.current;
  }
  async cancelJob(jobId: string) {
    this.cancelled.push(jobId);
    this.fail?.(new HallmarkError('cancelled', 'Cancelled.'));
    return true;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('ReviewSession', () => {
  it('shows the last review of a folder when it has one, and nothing when it has none', async () => {
    const api = new FakeReviewApi();
    const session = new ReviewSession(api);
    await session.load('/w/shoot', null);
    expect(session.status).toBe('idle');
    expect(session.report).toBeNull();

    api.last = api.current;
    await session.load('/w/other', '  /out/other ');
    expect(api.outs.at(-1)).toBe('/out/other');
    expect(session.status).toBe('reviewed');
    expect(session.report?.openHigh).toBe(2);
  });

  it('reviews with progress, groups findings most severe first, and keeps decisions', async () => {
    const api = new FakeReviewApi();
    const session = new ReviewSession(api);
    await session.load('/w/shoot', null);
    const running = session.review();
    expect(session.status).toBe('reviewing');
    api.progress?.({ jobId: api.jobId, phase: 'reviewing', itemsDone: 3, itemsTotal: 9, bytesDone: 300, bytesTotal: 900, message: null });
    expect(session.progress?.itemsDone).toBe(3);
    api.finish?.(api.current);
    await running;
    expect(session.status).toBe('reviewed');
    expect(session.progress).toBeNull();
    expect(session.groups.map((g) => g.severity.value)).toEqual(['high', 'low']);
    expect(session.groups[0]?.findings.map((f) => f.id)).toEqual(['f-gps', 'f-mail']);

    await session.decide(['f-dup'], 'excluded');
    expect(api.decisions).toEqual([{ ids: ['f-dup'], decision: 'excluded', out: null }]);
    // The first of the copies stays in.
    expect(session.excludedFiles).toBe(2);
    await session.decide(session.openOfKind('location'), 'accepted');
    expect(session.report?.openHigh).toBe(1);
    await session.decide(['f-dup'], 'open');
    expect(session.excludedFiles).toBe(0);
  });

  it('a cancelled first review goes back to idle without an error; a failed one says why', async () => {
    const api = new FakeReviewApi();
    const session = new ReviewSession(api);
    await session.load('/w/shoot', null);
    const running = session.review();
    await session.cancel();
    await running;
    expect(api.cancelled).toHaveLength(1);
    expect(session.status).toBe('idle');
    expect(session.error).toBeNull();

    const again = session.review();
    api.fail?.({ code: 'permission_denied', message: 'Cannot read /w/shoot/a.jpg: permission denied.' });
    await again;
    expect(session.status).toBe('failed');
    expect(session.error?.code).toBe('permission_denied');
  });

  it('a review of a folder left behind is cancelled and not shown', async () => {
    const api = new FakeReviewApi();
    const session = new ReviewSession(api);
    await session.load('/w/shoot', null);
    const running = session.review();
    const finish = api.finish;
    await session.load('/w/other', null);
    expect(api.cancelled).toHaveLength(1);
    finish?.(api.current);
    await running;
    await tick();
    expect(session.report).toBeNull();
    expect(session.status).toBe('idle');
  });
});
