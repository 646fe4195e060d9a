// Unit tests of the identity state: a keyring that cannot be read is not a first run.
import { describe, expect, it } from 'vitest';
import type { IdentityApi } from './api';
import type { Identity } from './bindings';
import { IdentitySession } from './identity.svelte';

class FakeIdentityApi implements IdentityApi {
  answer: Identity[] | { code: string; message: string } = [];
  async identities() {
    if (!Array.isArray(this.answer)) throw this.answer;
    return this.answer;
  }
  async createIdentity(name: string) {
    return { did: 'did:key:z6Mk1', name, created: '2026-11-23T00:00:00Z', rotatedTo: null, rotatedAt: null, current: true };
  }
  async rotateIdentity(did: string) {
    if (!Array.isArray(this.answer)) throw this.answer;
    const old = this.answer.find((i) => i.did === did);
    if (!old) throw { code: 'not_found', message: 'No such identity.' };
    const fresh = { ...old, did: `${did}-next`, created: '2026-12-08T00:00:00Z', current: true };
    this.answer = [
      ...this.answer.map((i) =>
        i.did === did ? { ...i, rotatedTo: fresh.did, rotatedAt: fresh.created, current: false } : i,
      ),
      fresh,
    ];
    return fresh;
  }
  async deleteIdentity(did: string, confirmation: string) {
    if (!Array.isArray(this.answer)) throw this.answer;
    const found = this.answer.find((i) => i.did === did);
    if (!found || confirmation.trim() !== found.name) {
      throw { code: 'invalid_input', message: 'Type the name to confirm.' };
    }
    this.answer = this.answer.filter((i) => i.did !== did);
  }
  async restoreIdentity(): Promise<never> {
    throw new Error('not used');
  }
  async backupIdentity() {}
  async pickBackupPath() {
    return null;
  }
  async creatorCredentials() {
    return [];
  }
  async importCreatorCredential(): Promise<never> {
    throw new Error('not used');
  }
}

describe('IdentitySession', () => {
  it('signs with the key that replaced the old one, and deletes only when the name is typed', async () => {
    const api = new FakeIdentityApi();
    api.answer = [{ did: 'did:key:z6Mk1', name: 'Ana', created: '2026-11-23T00:00:00Z', rotatedTo: null, rotatedAt: null, current: true }];
    const session = new IdentitySession(api);
    await session.load();
    expect(session.current?.did).toBe('did:key:z6Mk1');

    await session.rotate('did:key:z6Mk1');
    expect(session.error).toBeNull();
    expect(session.identities).toHaveLength(2);
    expect(session.current?.did).toBe('did:key:z6Mk1-next');
    expect(session.rotated?.did).toBe('did:key:z6Mk1-next');

    expect(await session.remove('did:key:z6Mk1', 'ana')).toBe(false);
    expect(session.error?.code).toBe('invalid_input');
    expect(session.identities).toHaveLength(2);
    expect(await session.remove('did:key:z6Mk1', ' Ana ')).toBe(true);
    expect(session.identities.map((i) => i.did)).toEqual(['did:key:z6Mk1-next']);
    expect(session.current?.did).toBe('did:key:z6Mk1-next');
  });

  it('a locked keyring is said and retried, never taken for a first run', async () => {
    const api = new FakeIdentityApi();
    api.answer = { code: 'no_keyring', message: 'Hallmark cannot open your keyring (locked).' };
    const session = new IdentitySession(api);
    await session.load();
    expect(session.loaded).toBe(true);
    expect(session.unavailable?.code).toBe('no_keyring');
    expect(session.firstRun).toBe(false);

    api.answer = [{ did: 'did:key:z6Mk1', name: 'Ana', created: '2026-11-23T00:00:00Z', rotatedTo: null, rotatedAt: null, current: true }];
    await session.load();
    expect(session.unavailable).toBeNull();
    expect(session.firstRun).toBe(false);
    expect(session.identities).toHaveLength(1);
  });

  it('an empty keyring is a first run; continuing without the keyring is not', async () => {
    const api = new FakeIdentityApi();
    const session = new IdentitySession(api);
    await session.load();
    expect(session.firstRun).toBe(true);
    api.answer = { code: 'no_keyring', message: 'no keyring' };
    const other = new IdentitySession(api);
    await other.load();
    other.continueWithout();
    expect(other.unavailable).toBeNull();
    expect(other.firstRun).toBe(false);
  });
});
