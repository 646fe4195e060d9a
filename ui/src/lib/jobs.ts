// Ids for long jobs: the UI names each job so it can cancel it before the command returns.
let counter = 0;

export function newJobId(kind: string): string {
  counter += 1;
  return `${kind}-${Date.now().toString(36)}-${counter}`;
}
