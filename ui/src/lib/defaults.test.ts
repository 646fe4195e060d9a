// Unit tests of the defaults session: patterns typed one per line, errors kept, the saved value shown.
import { describe, expect, it } from 'vitest';
import type { DefaultsApi } from './api';
import type { StudioDefaults } from './bindings';
import { BUILT_IN, DefaultsSession } from './defaults.svelte';

class FakeDefaultsApi implements DefaultsApi {
  kept: StudioDefaults = BUILT_IN;
  async studioDefaults() {
    return this.kept;
  }
  async saveStudioDefaults(defaults: StudioDefaults) {
    if (defaults.excludes.some((p) => p.startsWith('['))) {
      throw { code: 'invalid_input', message: 'Invalid pattern "[raw": unclosed character class.' };
    }
    this.kept = defaults;
    return defaults;
  }
}

describe('DefaultsSession', () => {
  it('saves the patterns typed one per line, and keeps the old ones when refused', async () => {
    const api = new FakeDefaultsApi();
    const session = new DefaultsSession(api);
    await session.load();
    expect(session.value).toEqual(BUILT_IN);

    await session.save(4 * 1024 * 1024, ' *.psd \n\n drafts/\n');
    expect(session.saved).toBe(true);
    expect(api.kept).toEqual({ shardSize: 4 * 1024 * 1024, excludes: ['*.psd', 'drafts/'] });
    expect(session.value.excludes).toEqual(['*.psd', 'drafts/']);

    await session.save(64 * 1024 * 1024, '[raw');
    expect(session.saved).toBe(false);
    expect(session.error?.code).toBe('invalid_input');
    expect(api.kept.excludes).toEqual(['*.psd', 'drafts/']);
    expect(session.value.excludes).toEqual(['*.psd', 'drafts/']);
  });
});
