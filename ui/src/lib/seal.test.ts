// Unit tests of the seal session: what it asks for before sealing, and the states while and after.
import { describe, expect, it } from 'vitest';
import type { SealApi } from './api';
import type { Consent, DatasetChanges, JobProgress, PreviousSeal, SealedDataset, SealRequest, Signature, Verdict } from './bindings';
import { SealSession } from './seal.svelte';

const TERMS: Consent = {
  aiTraining: 'allowed', aiGenerativeTraining: 'not_allowed', aiInference: 'constrained', dataMining: 'allowed',
  constraints: 'credit me by name',
};

function sealed(samples: number, signature: Signature = 'unsigned'): SealedDataset {
  return {
    root: '/w/berlin', out: '/data/berlin-1234', files: samples * 2, bytes: 99, samples,
    shards: [{ cid: 'bafkreiexample', size: 4096, files: samples * 2, samples }],
    filesWithoutField: 0, skipped: [], skippedTotal: 0, manifest: '{}', manifestSha256: 'ab', indexSha256: 'cd',
    name: 'Berlin', license: 'CC-BY-4.0', version: '1.0.0', consent: TERMS, signature, statistics: null,
  };
}

function verdict(signature: Signature): Verdict {
  return {
    valid: true, signed: signature === 'signed', signature, signer: signature === 'signed' ? 'did:key:z6Mk' : null,
    filesChecked: 2, differences: [], summary: '',
  };
}

/** Answers every use, the way a creator clicks through the terms. */
function answerAll(session: SealSession) {
  session.terms.aiTraining = 'allowed';
  session.terms.aiGenerativeTraining = 'not_allowed';
  session.terms.aiInference = 'not_allowed';
  session.terms.dataMining = 'allowed';
}

class FakeSealApi implements SealApi {
  requests: SealRequest[] = [];
  previous: PreviousSeal | null = null;
  asked: string[] = [];
  signed: Verdict = verdict('signed');
  async previousSeal(path: string, _out: string | null) {
    this.asked.push(path);
    return this.previous;
  }
  finish: ((s: SealedDataset) => void) | null = null;
  fail: ((e: unknown) => void) | null = null;
  progress: ((p: JobProgress) => void) | null = null;

  sealDataset(request: SealRequest, _jobId: string, onProgress: (p: JobProgress) => void) {
    this.requests.push(request);
    this.progress = onProgress;
    return new Promise<SealedDataset>((resolve, reject) => {
      this.finish = resolve;
      this.fail = reject;
    });
  }
  watched: string[] = [];
  onChange: ((c: DatasetChanges) => void) | null = null;
  async watchSealedFolder(out: string, onChange: (c: DatasetChanges) => void) {
    this.watched.push(out);
    this.onChange = onChange;
  }
  async signSealed() {
    return this.signed;
  }
  async verifySealed(): Promise<never> {
    throw new Error('not used here');
  }
  reopened: SealedDataset | Error = sealed(3, 'signed');
  async openDataset(out: string) {
    if (this.reopened instanceof Error) throw this.reopened;
    return { ...this.reopened, out };
  }
  async cancelJob() {
    this.fail?.({ code: 'cancelled', message: 'cancelled' });
    return true;
  }
}

describe('SealSession', () => {
  it('names the dataset after the folder and asks for who made the work before sealing', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    await session.reset('/home/ana/shoots/berlin');
    expect(session.name).toBe('berlin');
    answerAll(session);
    await session.seal();
    expect(session.status).toBe('failed');
    expect(session.error?.message).toBe('Before sealing, add who made the work.');
    expect(api.requests).toHaveLength(0);
  });

  it('chooses no terms for the creator and cannot seal until all four uses are answered', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    await session.reset('/w/berlin');
    session.creator = 'Ana';
    expect(session.terms).toEqual({ aiTraining: null, aiGenerativeTraining: null, aiInference: null, dataMining: null });
    await session.seal();
    expect(session.error?.message).toBe('Before sealing, add your answer for each use of your work.');
    expect(session.attempted).toBe(true);

    session.terms.aiTraining = 'allowed';
    session.terms.aiInference = 'not_allowed';
    await session.seal();
    expect(session.error?.message).toBe('Before sealing, add your answer for Generative AI training and Data mining.');
    session.terms.aiGenerativeTraining = 'not_allowed';
    await session.seal();
    expect(session.unanswered).toEqual(['dataMining']);
    expect(api.requests).toHaveLength(0);

    session.terms.dataMining = 'allowed';
    void session.seal();
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.consent).toEqual({
      aiTraining: 'allowed', aiGenerativeTraining: 'not_allowed', aiInference: 'not_allowed', dataMining: 'allowed',
      constraints: null,
    });
  });

  it('asks for conditions once a use is allowed with conditions, and sends them only then', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    await session.reset('/w/berlin');
    session.creator = 'Ana';
    answerAll(session);
    session.constraints = 'typed, then changed my mind';
    expect(session.needsConstraints).toBe(false);
    session.terms.aiInference = 'constrained';
    expect(session.needsConstraints).toBe(true);
    session.constraints = '   ';
    await session.seal();
    expect(session.error?.message).toBe('Before sealing, add your conditions.');
    expect(api.requests).toHaveLength(0);

    session.constraints = ' credit me by name ';
    void session.seal();
    expect(api.requests[0]?.consent).toMatchObject({ aiInference: 'constrained', constraints: 'credit me by name' });
    api.finish?.(sealed(1));
  });

  it('fills the form in from the last seal of a folder sealed before, terms included', async () => {
    const api = new FakeSealApi();
    api.previous = {
      out: '/data/berlin-1234', name: 'Berlin 2024', license: 'CC-BY-NC-4.0', creator: 'Ana', version: '1.1.0',
      consent: TERMS, shardSize: 4 * 1024 * 1024,
    };
    const session = new SealSession(api);
    await session.reset('/w/berlin');
    expect(api.asked).toEqual(['/w/berlin']);
    expect(session.previous?.out).toBe('/data/berlin-1234');
    // The seal is shown again as it stands, signed, and watched.
    expect(session.status).toBe('sealed');
    expect(session.sealed?.out).toBe('/data/berlin-1234');
    expect(session.signature).toBe('signed');
    expect(api.watched).toEqual(['/data/berlin-1234']);
    expect([session.name, session.license, session.creator, session.version, session.shardSize]).toEqual([
      'Berlin 2024', 'CC-BY-NC-4.0', 'Ana', '1.1.0', 4194304,
    ]);
    expect(session.needsConstraints).toBe(true);
    expect(session.constraints).toBe('credit me by name');
    expect(session.missing).toEqual([]);
    void session.seal();
    expect(api.requests[0]).toMatchObject({ consent: TERMS, version: '1.1.0', license: 'CC-BY-NC-4.0' });

    // Another folder starts with no terms chosen.
    api.previous = null;
    await session.reset('/w/paris');
    expect(session.previous).toBeNull();
    expect(session.sealed).toBeNull();
    expect(session.unanswered).toHaveLength(4);

    // A seal that cannot be read back is said, and the form stays ready to seal again.
    api.previous = {
      out: '/data/gone', name: 'Gone', license: 'CC0-1.0', creator: 'Ana', version: '1.0.0', consent: TERMS,
      shardSize: 4194304,
    };
    api.reopened = Object.assign(new Error('gone'), { code: 'not_found', message: '/data/gone is not there' });
    await session.reset('/w/gone');
    expect(session.status).toBe('editing');
    expect(session.error?.code).toBe('not_found');
  });

  it('says a resealed dataset is signed for an earlier seal until it is signed again', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    await session.reset('/w/berlin');
    session.creator = 'Ana';
    answerAll(session);
    const sealing = session.seal();
    api.finish?.(sealed(2, 'signed_for_earlier_seal'));
    await sealing;
    expect(session.signature).toBe('signed_for_earlier_seal');
    await session.sign('did:key:z6Mk');
    expect(session.signature).toBe('signed');
  });

  it('sends the choices, shows progress, then the sealed dataset', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    await session.reset('/w/berlin');
    session.creator = ' Ana ';
    session.shardSize = 4 * 1024 * 1024;
    answerAll(session);
    const sealing = session.seal();
    expect(session.status).toBe('sealing');
    expect(api.requests[0]).toMatchObject({
      path: '/w/berlin', creator: 'Ana', license: 'CC-BY-4.0', version: '1.0.0', shardSize: 4194304, out: null,
    });
    api.progress?.({ jobId: 'j', phase: 'hashing', itemsDone: 1, itemsTotal: 4, bytesDone: 10, bytesTotal: 40, message: null });
    expect(session.progress?.phase).toBe('hashing');
    api.finish?.(sealed(2));
    await sealing;
    expect(session.status).toBe('sealed');
    expect(session.sealed?.samples).toBe(2);
    expect(session.progress).toBeNull();
    // The sealed folder is watched, and its changes are shown.
    expect(api.watched).toEqual(['/data/berlin-1234']);
    await session.sign(null);
    expect(session.verdict?.signature).toBe('signed');
    api.onChange?.({ added: 1, modified: 2, removed: 0, paths: ['a.txt', 'b.txt', 'c.txt'] });
    expect(session.changes?.modified).toBe(2);
    // The verdict was on files that changed since: it is not shown next to them.
    expect(session.verdict).toBeNull();
  });

  it('a cancelled seal goes back to editing without an error', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    await session.reset('/w/berlin');
    session.creator = 'Ana';
    answerAll(session);
    const sealing = session.seal();
    await session.cancel();
    await sealing;
    expect(session.status).toBe('editing');
    expect(session.error).toBeNull();
    expect(session.notice).toBe('Sealing cancelled: nothing was written.');
  });

  it('starts "made by" as the identity, for each folder, unless typed', async () => {
    const session = new SealSession(new FakeSealApi());
    session.defaultCreator = 'Ana Example';
    await session.reset('/w/berlin');
    expect(session.creator).toBe('Ana Example');
    session.creator = 'Studio Lima';
    await session.reset('/w/paris');
    expect(session.creator).toBe('Studio Lima');
  });

  it('a bad license comes back as an error the form shows', async () => {
    const api = new FakeSealApi();
    const session = new SealSession(api);
    await session.reset('/w/berlin');
    session.creator = 'Ana';
    session.license = 'CC-BY-4';
    answerAll(session);
    const sealing = session.seal();
    const message =
      '"CC-BY-4" is not an SPDX license expression (unknown license id "CC-BY-4"; did you mean CC-BY-4.0?); use an identifier from https://spdx.org/licenses such as CC-BY-4.0, or LicenseRef-<name> for your own terms';
    api.fail?.({ code: 'invalid_input', message });
    await sealing;
    expect(session.status).toBe('failed');
    expect(session.error?.code).toBe('invalid_input');
    // The core's words, which name the fix, are what the form shows, as a sentence.
    expect(session.error?.message).toBe(`${message}.`);
  });
});
