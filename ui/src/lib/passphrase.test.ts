// Unit tests of passphrase strength and the backup form's checks.
import { describe, expect, it } from 'vitest';
import { passphraseProblem, rate } from './passphrase';

describe('passphrases', () => {
  it('rates common and personal passwords weak, unrelated words strong', () => {
    expect(rate('password123').score).toBeLessThan(2);
    expect(rate('ana example 1990', ['Ana Example']).score).toBeLessThan(3);
    expect(rate('copper tundra whistle harbour').score).toBeGreaterThanOrEqual(3);
  });

  it('asks for a passphrase typed twice, long enough and hard to guess', () => {
    expect(passphraseProblem('', '')).toContain('Type a passphrase');
    expect(passphraseProblem('short', 'short')).toContain('at least 8 characters');
    expect(passphraseProblem('password123', 'password123')).toContain('easy to guess');
    expect(passphraseProblem('copper tundra whistle harbour', 'copper tundra whistle')).toContain('differ');
    expect(passphraseProblem('copper tundra whistle harbour', 'copper tundra whistle harbour')).toBeNull();
  });
});
