// Unit tests of the seal form as rendered: the four uses asked with nothing chosen, the conditions field on demand.
import { render } from 'svelte/server';
import { describe, expect, it } from 'vitest';
import type { SealApi } from '../lib/api';
import { SealSession } from '../lib/seal.svelte';
import SealForm from './SealForm.svelte';

/** The form only reads the session; no command is called while rendering. */
const idleApi: SealApi = {
  sealDataset: () => new Promise(() => {}),
  previousSeal: async () => null,
  cancelJob: async () => false,
  watchSealedFolder: async () => {},
  signSealed: () => new Promise(() => {}),
  verifySealed: () => new Promise(() => {}),
  openDataset: () => new Promise(() => {}),
};

function html(session: SealSession): string {
  return render(SealForm, { props: { session } }).body;
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

describe('SealForm', () => {
  it('asks each of the four uses with three answers, none chosen, each marked "Choose one"', async () => {
    const session = new SealSession(idleApi);
    await session.reset('/w/berlin');
    const body = html(session);
    for (const use of ['aiTraining', 'aiGenerativeTraining', 'aiInference', 'dataMining']) {
      for (const answer of ['allowed', 'not_allowed', 'constrained']) {
        expect(body).toContain(`data-testid="term-${use}-${answer}"`);
      }
    }
    expect(count(body, /type="radio"/g)).toBe(12);
    expect(count(body, /\bchecked\b/g)).toBe(0);
    expect(count(body, />Choose one</g)).toBe(4);
    expect(body).toContain('in the style of your work');
    expect(body).not.toContain('data-testid="seal-constraints"');
  });

  it('shows the conditions field once any use is allowed with conditions', async () => {
    const session = new SealSession(idleApi);
    await session.reset('/w/berlin');
    session.terms.aiTraining = 'allowed';
    session.terms.dataMining = 'not_allowed';
    expect(html(session)).not.toContain('data-testid="seal-constraints"');
    session.terms.aiInference = 'constrained';
    const body = html(session);
    expect(body).toContain('data-testid="seal-constraints"');
    expect(count(body, /\bchecked\b/g)).toBe(3);
    expect(count(body, />Choose one</g)).toBe(1);
  });
});
