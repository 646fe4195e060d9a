// How strong a new passphrase is (zxcvbn-ts with its common-password lists), and what a backup form
// asks before it encrypts: the passphrase typed twice, long enough, not easy to guess.
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

/** The core's rule for a new passphrase (hallmark-core `MIN_PASSPHRASE_CHARS`). */
export const MIN_CHARS = 8;
/** The lowest zxcvbn score (0–4) a backup's passphrase may have. */
export const MIN_SCORE = 3;

export const STRENGTH_WORDS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'] as const;

let checker: ZxcvbnFactory | null = null;

export interface Strength {
  /** 0 (guessed at once) to 4 (very hard to guess). */
  score: number;
  words: (typeof STRENGTH_WORDS)[number];
  /** What would make it stronger, when there is something to say. */
  advice: string | null;
}

/** Rates `passphrase`; `userInputs` (the creator's name…) count as easy to guess. */
export function rate(passphrase: string, userInputs: string[] = []): Strength {
  checker ??= new ZxcvbnFactory({ dictionary, graphs: adjacencyGraphs });
  const result = checker.check(passphrase, userInputs);
  const score = Math.max(0, Math.min(4, result.score));
  const advice = result.feedback.warning || result.feedback.suggestions[0] || null;
  return { score, words: STRENGTH_WORDS[score] ?? 'Very weak', advice: advice ? String(advice) : null };
}

/** What is wrong with a new passphrase and its repetition, in words; null when it may be used. */
export function passphraseProblem(passphrase: string, repeated: string, userInputs: string[] = []): string | null {
  if (passphrase.length === 0) return 'Type a passphrase: a few words only you would put together.';
  if ([...passphrase].length < MIN_CHARS) return `Use at least ${MIN_CHARS} characters; a few words are best.`;
  if (rate(passphrase, userInputs).score < MIN_SCORE) {
    return 'This passphrase is easy to guess: add a word or two that do not belong together.';
  }
  if (passphrase !== repeated) return 'The two passphrases differ: type the same one twice.';
  return null;
}
