// The UI's error class: every failed IPC call becomes a HallmarkError with a code to branch on.
import type { ErrorCode, IpcError } from './bindings';
import { sentence } from './format';

const CODES: readonly ErrorCode[] = [
  'not_found',
  'invalid_input',
  'permission_denied',
  'cancelled',
  'changed',
  'damaged',
  'io',
  'no_keyring',
  'offline',
  'marketplace_changed',
  'refused',
  'internal',
];

function isIpcError(value: unknown): value is IpcError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.message === 'string' && CODES.includes(v.code as ErrorCode);
}

export class HallmarkError extends Error {
  readonly code: ErrorCode;

  /** `message` is shown as a sentence: the core's and the client's lower-case phrases start with a capital. */
  constructor(code: ErrorCode, message: string) {
    super(sentence(message));
    this.name = 'HallmarkError';
    this.code = code;
  }

  /** Turns whatever an IPC call threw into a HallmarkError; unknown shapes are internal errors. */
  static from(thrown: unknown): HallmarkError {
    if (thrown instanceof HallmarkError) return thrown;
    if (isIpcError(thrown)) return new HallmarkError(thrown.code, thrown.message);
    const text = thrown instanceof Error ? thrown.message : String(thrown);
    return new HallmarkError('internal', `internal error: ${text}; please report it`);
  }

  /** The creator stopped the job: nothing to show as a failure. */
  get cancelled(): boolean {
    return this.code === 'cancelled';
  }
}
